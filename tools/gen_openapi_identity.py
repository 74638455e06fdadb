"""Writes services/identity/src/http/openapi.json from the compact table below.

Run after changing identity's routes; the test `health_readiness_metrics_and_openapi` checks
that the document lists the routes clients rely on.
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

paths = {
 "/v1/auth/signup": {"post": op("Create an account and its organization", "201", False, "Signup", "auth")},
 "/v1/auth/login": {"post": op("Sign in (optionally to a chosen organization); 429 with Retry-After when locked out", "200", False, "Login", "auth")},
 "/v1/auth/refresh": {"post": op("Rotate the refresh token; reusing a rotated one revokes the session", "200", False, "Refresh", "auth")},
 "/v1/auth/logout": {"post": op("End the calling session", "204", tag="auth")},
 "/v1/auth/password-reset": {"post": op("Request a reset mail; always 202", "202", False, "Email", "auth")},
 "/v1/auth/password-reset/confirm": {"post": op("Set a new password with the mailed token; ends every session", "204", False, "ConfirmReset", "auth")},
 "/v1/auth/verify-email": {"post": op("Verify the email address with the mailed token", "204", False, "Token", "auth")},
 "/v1/auth/verify-email/resend": {"post": op("Mail a new verification link", "202", tag="auth")},
 "/v1/me": {"get": op("The caller, their organization, role and memberships")},
 "/v1/sessions": {"get": op("The caller's live sessions")},
 "/v1/sessions/{id}": {"delete": op("End one of the caller's sessions", "204")},
 "/v1/orgs": {"get": op("The caller's organizations"), "post": op("Create another organization (caller becomes owner)", "201", body="CreateOrg")},
 "/v1/orgs/current": {"get": op("The current organization"), "patch": op("Update name, description, links, settings (admin)", body="UpdateOrg")},
 "/v1/members": {"get": op("Members, cursor paginated; ?role=&limit=&cursor=")},
 "/v1/members/{user_id}": {"get": op("One member"), "patch": op("Change a member's role (admin; owners for ownership)", body="Role"), "delete": op("Remove a member, or leave", "204")},
 "/v1/invitations": {"get": op("Invitations; ?status=pending|accepted|cancelled"), "post": op("Invite by email with a role (72 h)", "201", body="Invite")},
 "/v1/invitations/accept": {"post": op("Accept: creates or links the account and signs in", "200", False, "Accept")},
 "/v1/invitations/{id}": {"delete": op("Cancel a pending invitation", "204")},
 "/v1/teams": {"get": op("Teams"), "post": op("Create a team (manager)", "201", body="Unit")},
 "/v1/teams/{id}": {"get": op("A team with its members"), "patch": op("Update a team", body="Unit"), "delete": op("Delete a team", "204")},
 "/v1/teams/{id}/members/{user_id}": {"put": op("Add or update a team member (member|lead)"), "delete": op("Remove a team member", "204")},
 "/v1/departments": {"get": op("Departments"), "post": op("Create a department (manager)", "201", body="Unit")},
 "/v1/departments/{id}": {"get": op("A department"), "patch": op("Update a department", body="Unit"), "delete": op("Delete a department", "204")},
 "/v1/api-keys": {"get": op("API keys, by prefix only (admin)"), "post": op("Create an API key; the key is shown once (admin)", "201", body="CreateKey")},
 "/v1/api-keys/{id}": {"delete": op("Revoke an API key everywhere within a second", "204")},
 "/healthz": {"get": op("Alive", auth=False, tag="ops")},
 "/readyz": {"get": op("Database, NATS and migrations ready (503 otherwise)", auth=False, tag="ops")},
 "/metrics": {"get": op("Prometheus metrics", auth=False, tag="ops")},
}
s = lambda props, req: {"type": "object", "required": req, "properties": {k: {"type": v} for k, v in props.items()}}
schemas = {
 "Signup": s({"email": "string", "password": "string", "name": "string", "organization_name": "string", "organization_slug": "string"}, ["email", "password", "name", "organization_name"]),
 "Login": s({"email": "string", "password": "string", "organization": "string"}, ["email", "password"]),
 "Refresh": s({"refresh_token": "string"}, ["refresh_token"]),
 "Email": s({"email": "string"}, ["email"]),
 "Token": s({"token": "string"}, ["token"]),
 "ConfirmReset": s({"token": "string", "password": "string"}, ["token", "password"]),
 "CreateOrg": s({"name": "string", "slug": "string"}, ["name"]),
 "UpdateOrg": s({"name": "string", "description": "string", "logo_url": "string", "website_url": "string", "settings": "object"}, []),
 "Role": s({"role": "string"}, ["role"]),
 "Invite": s({"email": "string", "role": "string", "department_id": "string"}, ["email", "role"]),
 "Accept": s({"token": "string", "password": "string", "name": "string"}, ["token", "password"]),
 "Unit": s({"name": "string", "description": "string", "manager_id": "string", "is_active": "boolean"}, []),
 "CreateKey": s({"name": "string", "scopes": "array", "role": "string", "expires_at": "string"}, ["name", "scopes"]),
 "Problem": s({"type": "string", "title": "string", "status": "integer", "detail": "string", "errors": "array"}, ["type", "title", "status"]),
}
doc = {
 "openapi": "3.1.0",
 "info": {"title": "Switchboard identity", "version": "0.1.0", "description": "Organizations, users, sessions, API keys. Errors are RFC 9457 problem+json."},
 "security": [{"bearer": []}],
 "paths": paths,
 "components": {
   "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "Access token (sbat_...) or API key (sbk_...)"}},
   "schemas": schemas,
   "responses": {"Problem": {"description": "RFC 9457 problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
 },
}
out = pathlib.Path(__file__).resolve().parent.parent / "services/identity/src/http/openapi.json"
out.write_text(json.dumps(doc, indent=1) + "\n")
