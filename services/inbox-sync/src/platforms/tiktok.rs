//! TikTok Business Messaging webhooks: `{client_key, event, create_time, user_openid, content}`
//! where `content` is a JSON string. `im_receive_msg` is a customer's message; `im_send_msg` is
//! the business's own (our echo, or one sent from TikTok's app). `user_openid` is the business
//! account the event belongs to.

use serde::Deserialize;
use serde_json::Value;

use super::{unix_millis, unix_seconds, Contact, ContentType, Malformed, Media, Message, Parsed, Update};

#[derive(Deserialize)]
struct Body {
    event: String,
    #[serde(default)]
    user_openid: String,
    #[serde(default)]
    create_time: Option<i64>,
    #[serde(default)]
    content: Option<String>,
}

pub fn parse(body: &[u8]) -> Result<Parsed, Malformed> {
    let body: Body = super::read_json(body).map_err(|e| Malformed(format!("not a TikTok webhook body: {e}")))?;
    let mut out = Parsed::default();
    let outbound = match body.event.as_str() {
        "im_receive_msg" => false,
        "im_send_msg" => true,
        _ => {
            out.skipped += 1;
            return Ok(out);
        }
    };
    let content = body.content.as_deref().ok_or_else(|| Malformed("content is missing".into()))?;
    // JSON inside a string: its escapes (a NUL's too) are read only now.
    let c: Value = super::read_json(content.as_bytes()).map_err(|e| Malformed(format!("content is not JSON: {e}")))?;
    let s = |p: &str| c.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let (Some(id), Some(from), Some(to)) = (s("/message_id"), s("/from_user/id"), s("/to_user/id")) else {
        return Err(Malformed("content lacks message_id, from_user or to_user".into()));
    };
    let at = c
        .get("timestamp")
        .and_then(Value::as_i64)
        .and_then(unix_millis)
        .or_else(|| body.create_time.and_then(unix_seconds))
        .ok_or_else(|| Malformed("no timestamp".into()))?;
    let kind = c.get("type").and_then(Value::as_str).unwrap_or("text");
    let (content_type, text, media) = match kind {
        "text" => (ContentType::Text, s("/text/body").unwrap_or_default(), None),
        "image" | "video" | "sticker" | "file" => {
            let ct = match kind {
                "image" => ContentType::Image,
                "video" => ContentType::Video,
                "sticker" => ContentType::Sticker,
                _ => ContentType::File,
            };
            let m = c.get(kind).cloned().unwrap_or(Value::Null);
            let media = Media {
                id: m.get("media_id").and_then(Value::as_str).map(str::to_owned),
                url: m.get("url").and_then(Value::as_str).map(str::to_owned),
                ..Media::default()
            };
            (ct, String::new(), Some(media))
        }
        _ => {
            out.skipped += 1;
            return Ok(out);
        }
    };
    // The customer is whoever is not the business.
    let (customer, customer_handle) = if outbound { (to, s("/to")) } else { (from, s("/from")) };
    out.updates.push(Update::Message(Box::new(Message {
        account_id: body.user_openid,
        external_id: id,
        contact: Contact {
            external_id: customer,
            username: customer_handle,
            thread_id: s("/conversation_id"),
            ..Contact::default()
        },
        outbound,
        content_type,
        text,
        media,
        location: None,
        reply_to: s("/reply_to/message_id"),
        reaction_to: None,
        timestamp: at,
    })));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/platforms/tiktok/im_receive_msg.json");

    #[test]
    fn a_customers_message_with_content_as_a_string() {
        let parsed = parse(&std::fs::read(FIXTURE).unwrap()).unwrap();
        let Update::Message(m) = &parsed.updates[0] else { panic!() };
        assert_eq!(m.account_id, "-000BUSINESSOPENID0000000000000000");
        assert_eq!(m.external_id, "7500000000000000001");
        assert_eq!(m.contact.external_id, "-000CUSTOMEROPENID");
        assert_eq!(m.contact.username.as_deref(), Some("customer_handle"));
        assert_eq!(m.text, "hello from tiktok");
        assert_eq!(m.timestamp.timestamp_millis(), 1_749_416_900_000);
        assert!(!m.outbound);
    }

    #[test]
    fn the_business_own_message_is_outbound_to_its_customer() {
        let content = serde_json::json!({"message_id": "75", "timestamp": 1000, "type": "text", "text": {"body": "hi"},
            "from": "brand", "from_user": {"id": "BIZ"}, "to": "cust", "to_user": {"id": "CUST"}});
        let body = serde_json::json!({"event": "im_send_msg", "user_openid": "BIZ", "content": content.to_string()});
        let parsed = parse(&serde_json::to_vec(&body).unwrap()).unwrap();
        let Update::Message(m) = &parsed.updates[0] else { panic!() };
        assert!(m.outbound);
        assert_eq!((m.account_id.as_str(), m.contact.external_id.as_str()), ("BIZ", "CUST"));
        let other = serde_json::json!({"event": "authorization_removed", "user_openid": "BIZ"});
        assert_eq!(parse(&serde_json::to_vec(&other).unwrap()).unwrap().skipped, 1);
        assert!(parse(br#"{"event":"im_receive_msg","content":"{"}"#).is_err());
    }

    #[test]
    fn a_nul_in_the_body_or_in_its_content_is_replaced() {
        let content = serde_json::json!({"message_id": "75", "timestamp": 1000, "type": "text",
            "text": {"body": "a\u{0}b"}, "from": "c\u{0}d", "from_user": {"id": "CUST"}, "to_user": {"id": "BIZ"}});
        // The content's escape is escaped again in the body: a NUL of the content, not of the body.
        let body =
            serde_json::json!({"event": "im_receive_msg", "user_openid": "BIZ\u{0}", "content": content.to_string()});
        let parsed = parse(&serde_json::to_vec(&body).unwrap()).unwrap();
        let Update::Message(m) = &parsed.updates[0] else { panic!() };
        assert_eq!((m.text.as_str(), m.account_id.as_str()), ("a\u{FFFD}b", "BIZ\u{FFFD}"));
        assert_eq!(m.contact.username.as_deref(), Some("c\u{FFFD}d"));
    }
}
