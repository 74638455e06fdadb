//! Meta's webhook bodies: WhatsApp Cloud (`object: whatsapp_business_account`,
//! `entry[].changes[].value.{messages, statuses, contacts}`), Messenger (`object: page`) and
//! Instagram (`object: instagram`), both `entry[].messaging[]` with `message` (and `is_echo`),
//! `delivery` and `read`. Every entry, change and item is read: Meta batches up to 1,000
//! updates in one POST.

use serde::Deserialize;
use serde_json::Value;

use super::{
    unix_millis, unix_seconds, Contact, ContentType, Malformed, Media, Message, Parsed, Platform, Status, StatusReport,
    Update, Watermark,
};

#[derive(Deserialize)]
struct Body {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
    #[serde(default)]
    messaging: Vec<Value>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: Value,
}

/// The platform a Meta body is for (`object`), and what it holds.
pub fn parse(body: &[u8]) -> Result<(Platform, Parsed), Malformed> {
    let body: Body = super::read_json(body).map_err(|e| Malformed(format!("not a Meta webhook body: {e}")))?;
    let platform = match body.object.as_str() {
        "whatsapp_business_account" => Platform::Whatsapp,
        "page" => Platform::Messenger,
        "instagram" => Platform::Instagram,
        other => return Err(Malformed(format!("unknown object {other:?}"))),
    };
    let mut out = Parsed::default();
    for entry in body.entry {
        match platform {
            Platform::Whatsapp => {
                for change in entry.changes {
                    if change.field == "messages" {
                        whatsapp_value(&change.value, &mut out);
                    } else {
                        out.skipped += 1;
                    }
                }
            }
            _ => {
                for event in &entry.messaging {
                    messaging(event, &mut out);
                }
                // Instagram also sends `changes` (comments, mentions): not messages.
                out.skipped += entry.changes.len();
            }
        }
    }
    Ok((platform, out))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Meta sends WhatsApp timestamps as strings of seconds.
fn seconds(v: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    match v {
        Value::String(s) => s.parse().ok().and_then(unix_seconds),
        Value::Number(n) => n.as_i64().and_then(unix_seconds),
        _ => None,
    }
}

fn whatsapp_value(value: &Value, out: &mut Parsed) {
    let Some(account) = value.pointer("/metadata/phone_number_id").and_then(Value::as_str) else {
        out.skipped += 1;
        return;
    };
    let contacts: Vec<&Value> =
        value.get("contacts").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
    let contact_of = |wa_id: &str| -> Contact {
        let found = contacts.iter().find(|c| c.get("wa_id").and_then(Value::as_str) == Some(wa_id));
        Contact {
            external_id: wa_id.to_owned(),
            name: found.and_then(|c| c.pointer("/profile/name")).and_then(Value::as_str).map(str::to_owned),
            ..Contact::default()
        }
    };
    for m in value.get("messages").and_then(Value::as_array).into_iter().flatten() {
        match whatsapp_message(account, m, &contact_of) {
            Some(msg) => out.updates.push(Update::Message(Box::new(msg))),
            None => out.skipped += 1,
        }
    }
    for s in value.get("statuses").and_then(Value::as_array).into_iter().flatten() {
        let status = s.get("status").and_then(Value::as_str).and_then(|x| match x {
            "sent" => Some(Status::Sent),
            "delivered" => Some(Status::Delivered),
            "read" => Some(Status::Read),
            "failed" => Some(Status::Failed),
            _ => None,
        });
        match (text(s, "id"), status, s.get("timestamp").and_then(seconds)) {
            (Some(id), Some(status), Some(at)) => out.updates.push(Update::Status(StatusReport {
                account_id: account.to_owned(),
                external_id: id,
                status,
                errors: s.get("errors").cloned(),
                timestamp: at,
            })),
            _ => out.skipped += 1,
        }
    }
}

fn whatsapp_message(account: &str, m: &Value, contact_of: &dyn Fn(&str) -> Contact) -> Option<Message> {
    let from = m.get("from")?.as_str()?;
    let id = text(m, "id")?;
    let at = m.get("timestamp").and_then(seconds)?;
    let kind = m.get("type").and_then(Value::as_str).unwrap_or("text");
    let media = |key: &str| {
        m.get(key).map(|x| Media {
            id: text(x, "id"),
            url: None,
            mime_type: text(x, "mime_type"),
            sha256: text(x, "sha256"),
            caption: text(x, "caption"),
            filename: text(x, "filename"),
        })
    };
    let (content_type, body, media, location, reaction_to) = match kind {
        "text" => (
            ContentType::Text,
            m.pointer("/text/body").and_then(Value::as_str).unwrap_or("").to_owned(),
            None,
            None,
            None,
        ),
        "image" | "video" | "audio" | "document" | "sticker" => {
            let ct = match kind {
                "image" => ContentType::Image,
                "video" => ContentType::Video,
                "audio" => ContentType::Audio,
                "sticker" => ContentType::Sticker,
                _ => ContentType::File,
            };
            let media = media(kind);
            let caption = media.as_ref().and_then(|x| x.caption.clone()).unwrap_or_default();
            (ct, caption, media, None, None)
        }
        "location" => {
            let l = m.get("location")?;
            let label = [text(l, "name"), text(l, "address")].into_iter().flatten().collect::<Vec<_>>().join(", ");
            (ContentType::Location, label, None, Some(l.clone()), None)
        }
        "reaction" => {
            let r = m.get("reaction")?;
            (ContentType::Reaction, text(r, "emoji").unwrap_or_default(), None, None, text(r, "message_id"))
        }
        "button" => (
            ContentType::Text,
            m.pointer("/button/text").and_then(Value::as_str).unwrap_or("").to_owned(),
            None,
            None,
            None,
        ),
        "interactive" => {
            let reply =
                m.pointer("/interactive/button_reply/title").or_else(|| m.pointer("/interactive/list_reply/title"));
            (ContentType::Text, reply.and_then(Value::as_str).unwrap_or("").to_owned(), None, None, None)
        }
        _ => return None,
    };
    Some(Message {
        account_id: account.to_owned(),
        external_id: id,
        contact: contact_of(from),
        outbound: false,
        content_type,
        text: body,
        media,
        location,
        reply_to: m.pointer("/context/id").and_then(Value::as_str).map(str::to_owned),
        reaction_to,
        timestamp: at,
    })
}

/// One `messaging[]` item of Messenger or Instagram.
fn messaging(event: &Value, out: &mut Parsed) {
    let sender = event.pointer("/sender/id").and_then(Value::as_str);
    let recipient = event.pointer("/recipient/id").and_then(Value::as_str);
    let at = event.get("timestamp").and_then(Value::as_i64).and_then(unix_millis);
    let (Some(sender), Some(recipient), Some(at)) = (sender, recipient, at) else {
        out.skipped += 1;
        return;
    };
    if let Some(m) = event.get("message") {
        let echo = m.get("is_echo").and_then(Value::as_bool).unwrap_or(false);
        // An echo is the page's own message: the page sent it, the customer received it.
        let (account, customer) = if echo { (sender, recipient) } else { (recipient, sender) };
        let Some(mid) = text(m, "mid") else {
            out.skipped += 1;
            return;
        };
        if m.get("is_deleted").and_then(Value::as_bool) == Some(true) {
            out.skipped += 1;
            return;
        }
        let attachment = m.get("attachments").and_then(Value::as_array).and_then(|a| a.first());
        let (content_type, media, location) = match attachment {
            None => (ContentType::Text, None, None),
            Some(a) => {
                let kind = a.get("type").and_then(Value::as_str).unwrap_or("file");
                let payload = a.get("payload").cloned().unwrap_or(Value::Null);
                let media = Some(Media { url: text(&payload, "url"), ..Media::default() });
                match kind {
                    "image" if payload.get("sticker_id").is_some() => (ContentType::Sticker, media, None),
                    "image" => (ContentType::Image, media, None),
                    "video" => (ContentType::Video, media, None),
                    "audio" => (ContentType::Audio, media, None),
                    "location" => (ContentType::Location, None, payload.get("coordinates").cloned()),
                    _ => (ContentType::File, media, None),
                }
            }
        };
        out.updates.push(Update::Message(Box::new(Message {
            account_id: account.to_owned(),
            external_id: mid,
            contact: Contact { external_id: customer.to_owned(), ..Contact::default() },
            outbound: echo,
            content_type,
            text: text(m, "text").unwrap_or_default(),
            media,
            location,
            reply_to: m.pointer("/reply_to/mid").and_then(Value::as_str).map(str::to_owned),
            reaction_to: None,
            timestamp: at,
        })));
    } else if let Some(r) = event.get("reaction") {
        let Some(mid) = text(r, "mid") else {
            out.skipped += 1;
            return;
        };
        out.updates.push(Update::Message(Box::new(Message {
            account_id: recipient.to_owned(),
            // A reaction has no id of its own: it is keyed by what it reacts to and who.
            external_id: format!("reaction:{mid}:{sender}:{}", event["timestamp"]),
            contact: Contact { external_id: sender.to_owned(), ..Contact::default() },
            outbound: false,
            content_type: ContentType::Reaction,
            text: text(r, "emoji").unwrap_or_default(),
            media: None,
            location: None,
            reply_to: None,
            reaction_to: Some(mid),
            timestamp: at,
        })));
    } else if let Some((key, status)) =
        [("delivery", Status::Delivered), ("read", Status::Read)].into_iter().find(|(k, _)| event.get(*k).is_some())
    {
        let w = &event[key];
        // The watermark is a time in milliseconds: every message sent before it is covered.
        let Some(watermark) = w.get("watermark").and_then(Value::as_i64).and_then(unix_millis) else {
            out.skipped += 1;
            return;
        };
        out.updates.push(Update::Watermark(Watermark {
            account_id: recipient.to_owned(),
            contact_external_id: sender.to_owned(),
            status,
            watermark,
        }));
    } else {
        out.skipped += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/platforms");

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
    }

    fn only_message(p: &Parsed) -> &Message {
        assert_eq!(p.updates.len(), 1, "{p:?}");
        match &p.updates[0] {
            Update::Message(m) => m,
            other => panic!("not a message: {other:?}"),
        }
    }

    #[test]
    fn whatsapp_text_with_escaped_unicode() {
        let (platform, parsed) = parse(&fixture("whatsapp/inbound_text.json")).unwrap();
        assert_eq!(platform, Platform::Whatsapp);
        let m = only_message(&parsed);
        assert_eq!(m.account_id, "106540352242922");
        assert_eq!(m.external_id, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFBQkJCQ0NDRERERUVFRkZGAA==");
        assert_eq!(m.contact.external_id, "16505551234");
        assert_eq!(m.contact.name.as_deref(), Some("João Custódio"));
        assert_eq!(m.text, "Olá! Meu pedido #123 não chegou 😞");
        assert_eq!(m.content_type, ContentType::Text);
        assert_eq!(m.timestamp.timestamp(), 1_749_416_383);
        assert!(!m.outbound);
    }

    #[test]
    fn whatsapp_image_is_a_media_id_with_its_caption() {
        let (_, parsed) = parse(&fixture("whatsapp/inbound_image.json")).unwrap();
        let m = only_message(&parsed);
        assert_eq!(m.content_type, ContentType::Image);
        assert_eq!(m.text, "foto do produto");
        let media = m.media.as_ref().unwrap();
        assert_eq!(media.id.as_deref(), Some("1234567890123456"));
        assert_eq!(media.mime_type.as_deref(), Some("image/jpeg"));
    }

    #[test]
    fn whatsapp_statuses() {
        let (_, parsed) = parse(&fixture("whatsapp/status_delivered.json")).unwrap();
        assert_eq!(
            parsed.updates,
            vec![Update::Status(StatusReport {
                account_id: "106540352242922".into(),
                external_id: "wamid.OUT0000000000000000000000001".into(),
                status: Status::Delivered,
                errors: None,
                timestamp: unix_seconds(1_749_416_602).unwrap(),
            })]
        );
        let (_, sent) = parse(&fixture("whatsapp/status_sent.json")).unwrap();
        assert!(matches!(&sent.updates[0], Update::Status(s) if s.status == Status::Sent));
    }

    #[test]
    fn messenger_text() {
        let (platform, parsed) = parse(&fixture("messenger/inbound_text.json")).unwrap();
        assert_eq!(platform, Platform::Messenger);
        let m = only_message(&parsed);
        assert_eq!((m.account_id.as_str(), m.contact.external_id.as_str()), ("104200000000001", "6543210987654321"));
        assert_eq!(m.external_id, "m_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789");
        assert_eq!(m.text, "Hi, where is my order?");
        assert_eq!(m.timestamp.timestamp_millis(), 1_749_416_700_000);
    }

    #[test]
    fn every_entry_and_item_of_a_batch_is_read_and_unknown_kinds_are_skipped() {
        let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [
            {"id": "1", "changes": [
                {"field": "messages", "value": {"metadata": {"phone_number_id": "P1"},
                    "contacts": [{"wa_id": "A", "profile": {"name": "Ann"}}],
                    "messages": [
                        {"from": "A", "id": "w1", "timestamp": "1", "type": "text", "text": {"body": "one"}},
                        {"from": "A", "id": "w2", "timestamp": "2", "type": "location",
                         "location": {"latitude": 1.5, "longitude": 2.5, "name": "Shop"}},
                        {"from": "A", "id": "w3", "timestamp": "3", "type": "reaction",
                         "reaction": {"message_id": "w1", "emoji": "👍"}},
                        {"from": "A", "id": "w4", "timestamp": "4", "type": "unsupported"}
                    ],
                    "statuses": [{"id": "o1", "status": "failed", "timestamp": "5", "recipient_id": "A",
                        "errors": [{"code": 131047, "title": "Re-engagement message"}]}]}},
                {"field": "account_update", "value": {}}
            ]},
            {"id": "2", "changes": [{"field": "messages", "value": {"metadata": {"phone_number_id": "P2"},
                "messages": [{"from": "B", "id": "w5", "timestamp": "6", "type": "document",
                    "document": {"id": "D1", "filename": "invoice.pdf", "mime_type": "application/pdf"}}]}}]}
        ]});
        let (_, parsed) = parse(&serde_json::to_vec(&body).unwrap()).unwrap();
        assert_eq!(parsed.updates.len(), 5);
        assert_eq!(parsed.skipped, 2);
        let kinds: Vec<_> = parsed
            .updates
            .iter()
            .map(|u| match u {
                Update::Message(m) => (m.account_id.clone(), m.content_type.as_str().to_owned()),
                Update::Status(s) => (s.account_id.clone(), s.status.as_str().to_owned()),
                Update::Watermark(_) => unreachable!(),
            })
            .collect();
        assert_eq!(
            kinds,
            [("P1", "text"), ("P1", "location"), ("P1", "reaction"), ("P1", "failed"), ("P2", "file")]
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        let Update::Message(react) = &parsed.updates[2] else { unreachable!() };
        assert_eq!((react.reaction_to.as_deref(), react.text.as_str()), (Some("w1"), "👍"));
        let Update::Status(failed) = &parsed.updates[3] else { unreachable!() };
        assert_eq!(failed.errors.as_ref().unwrap()[0]["code"], 131047);
    }

    #[test]
    fn messenger_echoes_watermarks_and_instagram() {
        let body = serde_json::json!({"object": "instagram", "entry": [{"id": "IG", "time": 1, "messaging": [
            {"sender": {"id": "IG"}, "recipient": {"id": "C"}, "timestamp": 1000,
             "message": {"mid": "m1", "text": "sent from the app", "is_echo": true}},
            {"sender": {"id": "C"}, "recipient": {"id": "IG"}, "timestamp": 2000,
             "message": {"mid": "m2", "attachments": [{"type": "image", "payload": {"url": "https://cdn/x.jpg"}}]}},
            {"sender": {"id": "C"}, "recipient": {"id": "IG"}, "timestamp": 3000, "read": {"watermark": 2500}},
            {"sender": {"id": "C"}, "recipient": {"id": "IG"}, "timestamp": 3000, "postback": {"payload": "x"}}
        ]}]});
        let (platform, parsed) = parse(&serde_json::to_vec(&body).unwrap()).unwrap();
        assert_eq!(platform, Platform::Instagram);
        assert_eq!(parsed.skipped, 1);
        let Update::Message(echo) = &parsed.updates[0] else { panic!() };
        assert!(echo.outbound);
        assert_eq!((echo.account_id.as_str(), echo.contact.external_id.as_str()), ("IG", "C"));
        let Update::Message(image) = &parsed.updates[1] else { panic!() };
        assert_eq!(image.content_type, ContentType::Image);
        assert_eq!(image.media.as_ref().unwrap().url.as_deref(), Some("https://cdn/x.jpg"));
        let Update::Watermark(w) = &parsed.updates[2] else { panic!() };
        assert_eq!((w.status, w.watermark.timestamp_millis()), (Status::Read, 2500));
    }

    #[test]
    fn a_nul_in_a_message_is_replaced_not_refused() {
        let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
            {"field": "messages", "value": {"metadata": {"phone_number_id": "P1"},
                "contacts": [{"wa_id": "A", "profile": {"name": "An\u{0}n"}}],
                "messages": [{"from": "A", "id": "w1", "timestamp": "1", "type": "text",
                    "text": {"body": "hi\u{0}there"}}]}}]}]});
        let bytes = serde_json::to_vec(&body).unwrap();
        assert!(bytes.windows(6).any(|w| w == br"\u0000"), "the JSON escape, as a platform sends it");
        let (_, parsed) = parse(&bytes).unwrap();
        let m = only_message(&parsed);
        assert_eq!((m.text.as_str(), m.contact.name.as_deref()), ("hi\u{FFFD}there", Some("An\u{FFFD}n")));
    }

    #[test]
    fn bodies_that_are_not_metas_are_malformed() {
        assert!(parse(b"not json").is_err());
        assert!(parse(br#"{"object":"user","entry":[]}"#).is_err());
        assert!(parse(br#"{"entry":[]}"#).is_err());
    }
}
