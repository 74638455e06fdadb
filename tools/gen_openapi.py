"""Writes the OpenAPI document (services/<name>/src/http/openapi.json) of each service not yet
generated from its code (identity's is) from the compact tables below. Run after changing routes; each service's tests check that its document
lists the routes clients rely on.
"""
import json, pathlib

P = {"$ref": "#/components/responses/Problem"}
def op(summary, status="200", auth=True, body=None, tag="identity"):
    o = {"summary": summary, "tags": [tag], "responses": {status: {"description": "success"}, "default": P}}
    if body:
        o["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}}
    if not auth:
        o["security"] = []
    return o

OPS = {
 "/healthz": {"get": op("Alive", auth=False, tag="ops")},
 "/readyz": {"get": op("Database, NATS and migrations ready (503 otherwise)", auth=False, tag="ops")},
 "/metrics": {"get": op("Prometheus metrics", auth=False, tag="ops")},
}
F = "feedback"
FEEDBACK = {
 "/v1/categories": {"get": op("Categories by sort order", tag=F), "post": op("Create a category (manager)", "201", body="Category", tag=F)},
 "/v1/categories/{id}": {"get": op("A category", tag=F), "patch": op("Update a category (manager)", body="Category", tag=F), "delete": op("Delete a category (manager)", "204", tag=F)},
 "/v1/feedback": {"get": op("Posts; ?sort=new|top|trending|discussed|relevance&status=&category_id=&tag=&author_id=&assignee_id=&is_public=&q=&pinned_first=&limit=&cursor=", tag=F),
                  "post": op("Create a post (quota-checked; 402 when the plan is full)", "201", body="Post", tag=F)},
 "/v1/feedback/similar": {"get": op("The five closest posts to ?title=", tag=F)},
 "/v1/feedback/settings": {"get": op("Board settings", tag=F), "put": op("Change board settings (admin)", body="Board", tag=F)},
 "/v1/feedback/{id}": {"get": op("A post", tag=F), "patch": op("Update a post (authors: words; agents: everything)", body="Post", tag=F), "delete": op("Delete a post (author or manager)", "204", tag=F)},
 "/v1/feedback/{id}/status": {"post": op("Change status with an optional public note (agent)", body="Status", tag=F)},
 "/v1/feedback/{id}/merge": {"post": op("Merge into another post (agent)", body="Merge", tag=F)},
 "/v1/feedback/{id}/vote": {"put": op("Vote up or down", body="Vote", tag=F), "delete": op("Retract the vote", tag=F)},
 "/v1/feedback/{id}/subscription": {"put": op("Follow the post", "204", tag=F), "delete": op("Stop following", "204", tag=F)},
 "/v1/feedback/{id}/comments": {"get": op("Comments in order, with parent_id (internal notes for agents)", tag=F), "post": op("Comment or reply", "201", body="Comment", tag=F)},
 "/v1/feedback/{id}/comments/{comment_id}": {"patch": op("Edit (author)", body="Comment", tag=F), "delete": op("Delete with replies (author or manager)", "204", tag=F)},
 "/v1/feedback/{id}/attachments": {"get": op("Attachments", tag=F), "post": op("Upload (multipart: file, comment_id?)", "201", tag=F)},
 "/v1/feedback/{id}/attachments/{attachment_id}": {"get": op("Download", tag=F), "delete": op("Delete (uploader or manager)", "204", tag=F)},
 "/v1/public/{slug}/feedback": {"get": op("Public posts", auth=False, tag="public"), "post": op("Anonymous post, where allowed", "201", False, "Post", "public")},
 "/v1/public/{slug}/feedback/{id}": {"get": op("A public post", auth=False, tag="public")},
 "/v1/public/{slug}/feedback/{id}/comments": {"get": op("Public comments", auth=False, tag="public")},
 "/v1/public/{slug}/feedback/{id}/vote": {"put": op("Anonymous vote, where allowed", "200", False, "Vote", "public"), "delete": op("Retract the anonymous vote", auth=False, tag="public")},
}
s = lambda props, req: {"type": "object", "required": req, "properties": {k: {"type": v} for k, v in props.items()}}
schemas = {
 "Problem": s({"type": "string", "title": "string", "status": "integer", "detail": "string", "errors": "array"}, ["type", "title", "status"]),
}
FEEDBACK_SCHEMAS = {
 "Category": s({"name": "string", "description": "string", "color": "string", "icon": "string", "is_active": "boolean", "sort_order": "integer"}, []),
 "Post": s({"title": "string", "description": "string", "category_id": "string", "tags": "array", "is_public": "boolean", "priority": "string", "assignee_id": "string", "is_pinned": "boolean", "metadata": "object", "author_name": "string"}, ["title"]),
 "Board": s({"public_enabled": "boolean", "allow_anonymous_posts": "boolean", "allow_anonymous_votes": "boolean", "auto_subscribe_voters": "boolean", "auto_subscribe_commenters": "boolean"}, []),
 "Status": s({"status": "string", "note": "string"}, ["status"]),
 "Merge": s({"into": "string"}, ["into"]),
 "Vote": s({"type": "string"}, ["type"]),
 "Comment": s({"content": "string", "parent_id": "string", "is_internal": "boolean"}, ["content"]),
 "Problem": schemas["Problem"],
}

def write(service, title, description, paths, schemas):
    doc = {
 "openapi": "3.1.0",
 "info": {"title": title, "version": "0.1.0", "description": description + " Errors are RFC 9457 problem+json."},
 "security": [{"bearer": []}],
 "paths": {**paths, **OPS},
 "components": {
   "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "Access token (sbat_...) or API key (sbk_...)"}},
   "schemas": schemas,
   "responses": {"Problem": {"description": "RFC 9457 problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
 },
}
    out = pathlib.Path(__file__).resolve().parent.parent / f"services/{service}/src/http/openapi.json"
    out.write_text(json.dumps(doc, indent=1) + "\n")

W = "webhooks"
WEBHOOKS = {
 "/v1/webhooks": {"get": op("Endpoints", tag=W), "post": op("Create an endpoint; its secret (whsec_...) is shown once; 422 for URLs that resolve to private networks", "201", body="Endpoint", tag=W)},
 "/v1/webhooks/{id}": {"get": op("An endpoint", tag=W), "patch": op("Update an endpoint", body="Endpoint", tag=W), "delete": op("Delete an endpoint and its deliveries", "204", tag=W)},
 "/v1/webhooks/{id}/enable": {"post": op("Enable; pending deliveries resume", tag=W)},
 "/v1/webhooks/{id}/disable": {"post": op("Disable; deliveries wait", tag=W)},
 "/v1/webhooks/{id}/rotate-secret": {"post": op("New secret; the old one signs beside it for the overlap (default 24 h)", body="Rotate", tag=W)},
 "/v1/webhooks/{id}/test": {"post": op("Send a webhook.test event", "202", tag=W)},
 "/v1/webhooks/{id}/deliveries": {"get": op("Deliveries, newest first; ?status=pending|succeeded|failed&limit=&cursor=", tag=W)},
 "/v1/webhooks/{id}/recover": {"post": op("Send again every delivery that failed since {since}", "202", body="Recover", tag=W)},
 "/v1/deliveries/{id}": {"get": op("A delivery with its payload and every attempt", tag=W)},
 "/v1/deliveries/{id}/retry": {"post": op("Send a delivery again now", "202", tag=W)},
 "/v1/notifications": {"get": op("The caller's notifications, unread first; ?limit=&cursor=", tag="notifications")},
 "/v1/notifications/unread-count": {"get": op("Unread notifications", tag="notifications")},
 "/v1/notifications/read-all": {"post": op("Mark all read", "204", tag="notifications")},
 "/v1/notifications/{id}/read": {"post": op("Mark one read", "204", tag="notifications")},
 "/v1/dev/mailbox": {"get": op("Development only: mail kept instead of sent; ?to=", auth=False, tag="development")},
}
WEBHOOK_SCHEMAS = {
 "Endpoint": s({"url": "string", "events": "array", "description": "string", "rate_limit_per_second": "integer", "max_concurrency": "integer", "ordered": "boolean"}, ["url", "events"]),
 "Rotate": s({"overlap_seconds": "integer"}, []),
 "Recover": s({"since": "string"}, ["since"]),
 "Problem": schemas["Problem"],
}

write("feedback", "Switchboard feedback", "Feature-request boards: posts, votes, comments, attachments, public portal.", FEEDBACK, FEEDBACK_SCHEMAS)
write("webhooks-dispatcher", "Switchboard webhooks dispatcher", "Signed, retried webhook deliveries (Standard Webhooks), in-app notifications, development mailbox.", WEBHOOKS, WEBHOOK_SCHEMAS)
