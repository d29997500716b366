//! The OpenAPI 3.1 document served at `/openapi.json`, generated from [`crate::api::ACTIONS`].
//!
//! The API is one operation, `POST /`, whose action is the `X-Action` header; OpenAPI keys
//! operations by path and method, so each action is described twice: as the header's `enum`
//! on `POST /`, and, with its own request and response schemas, under the documentation-only
//! path `/#<Action>` (`#` begins a fragment, so these paths are never requested). The
//! extension `x-wbkms-role` names the least role an action needs.

use serde_json::{Map, Value, json};

use crate::api::{ACTIONS, Field, Spec, Ty};

fn schema(ty: Ty) -> Value {
    match ty {
        Ty::String => json!({"type": "string"}),
        Ty::Base64 => json!({"type": "string", "contentEncoding": "base64"}),
        Ty::Integer => json!({"type": "integer", "minimum": 0}),
        Ty::Boolean => json!({"type": "boolean"}),
        Ty::KeyStatus => json!({"enum": ["Enabled", "Disabled", 0, 1]}),
        Ty::Strings => json!({"type": "array", "items": {"type": "string"}}),
        Ty::Tags | Ty::TagFilters => {
            json!({"type": "array", "items": {"$ref": "#/components/schemas/Tag"}})
        }
        Ty::Devices => {
            json!({"type": "array", "items": {"$ref": "#/components/schemas/DeviceFingerprint"}})
        }
        Ty::KeyInfo => json!({"$ref": "#/components/schemas/KeyInfo"}),
        Ty::KeyInfos => json!({"type": "array", "items": {"$ref": "#/components/schemas/KeyInfo"}}),
        Ty::KeyVersions => list("KeyVersion"),
        Ty::Tokens => list("Token"),
        Ty::AccessKeys => list("AccessKey"),
        Ty::AuditRecords => list("AuditRecord"),
        Ty::AuditChains => list("AuditChain"),
    }
}

fn list(component: &str) -> Value {
    json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{component}")}})
}

fn object(fields: &[Field], extra: &[(&str, Value)], closed: bool) -> Value {
    let mut props = Map::new();
    for f in fields {
        let mut s = schema(f.ty);
        s["description"] = json!(f.doc);
        props.insert(f.name.to_owned(), s);
    }
    for (name, s) in extra {
        props.insert((*name).to_owned(), s.clone());
    }
    let mut required: Vec<&str> = fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    required.extend(extra.iter().map(|(n, _)| *n));
    json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": !closed,
    })
}

fn operation(spec: &Spec) -> Value {
    let response = object(
        spec.response,
        &[("RequestId", json!({"type": "string", "format": "uuid"}))],
        true,
    );
    json!({
        "post": {
            "operationId": spec.name,
            "summary": spec.summary,
            "x-wbkms-role": spec.role.name(),
            "parameters": [{
                "name": "X-Action", "in": "header", "required": true,
                "schema": {"type": "string", "const": spec.name}
            }],
            "requestBody": {
                "required": true,
                "content": {"application/json": {"schema": object(spec.request, &[], true)}}
            },
            "responses": {
                "200": {
                    "description": "The action succeeded.",
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {"Response": response},
                        "required": ["Response"]
                    }}}
                },
                "default": {"$ref": "#/components/responses/Error"}
            }
        }
    })
}

/// A credential as the List actions show it: never its secret, hash or MAC.
fn credential(id: &str, doc: &str) -> Value {
    json!({
        "type": "object",
        "properties": {
            id: {"type": "string", "description": doc},
            "Name": {"type": "string"},
            "Role": {"type": "string", "enum": ["admin", "operator", "reader", "metrics"]},
            "CreateTime": {"type": "string", "format": "date-time"},
            "ExpireTime": {"type": ["string", "null"], "format": "date-time", "description": "null: until revoked."},
            "LastUsedTime": {"type": ["string", "null"], "format": "date-time", "description": "When it last authenticated a request, to the minute."},
            "Revoked": {"type": "boolean"},
            "Expired": {"type": "boolean"}
        },
        "required": [id, "Name", "Role", "CreateTime", "ExpireTime", "LastUsedTime", "Revoked", "Expired"],
        "additionalProperties": false
    })
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    let names: Vec<&str> = ACTIONS.iter().map(|s| s.name).collect();
    paths.insert(
        "/".into(),
        json!({
            "post": {
                "operationId": "Action",
                "summary": "Calls the action named by X-Action with a JSON body; see the /#<Action> entries for each action's parameters and response.",
                "security": [{"bearer": []}],
                "parameters": [{
                    "name": "X-Action", "in": "header", "required": true,
                    "schema": {"type": "string", "enum": names}
                }],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {
                    "200": {"description": "See the action's entry."},
                    "default": {"$ref": "#/components/responses/Error"}
                }
            }
        }),
    );
    for spec in ACTIONS {
        paths.insert(format!("/#{}", spec.name), operation(spec));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "wbkms: the white-box key toolkit's KMS service",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "KMS-style white-box key API. Every call is POST / with the action in X-Action, a JSON body, and Authorization: Bearer <token>. Errors carry the toolkit's stable codes (02xxxxxx: key store and generator; 03xxxxxx: service). The same actions are served in the cloud KMS protocol (X-TC-Action, X-TC-Version 2019-01-18, TC3-HMAC-SHA256 signatures with access keys): every answer HTTP 200, errors by KMS code, KeyInfo as the SDK's WhiteboxKeyInfo."
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Tag": {
                    "type": "object",
                    "properties": {"TagKey": {"type": "string"}, "TagValue": {"type": "string"}},
                    "required": ["TagKey"],
                    "additionalProperties": false
                },
                "TagFilter": {
                    "type": "object",
                    "properties": {
                        "TagKey": {"type": "string"},
                        "TagValue": {"description": "A string, or a list of strings (any of them)."}
                    },
                    "required": ["TagKey"],
                    "additionalProperties": false
                },
                "DeviceFingerprint": {
                    "type": "object",
                    "properties": {"Identity": {"type": "string"}, "Description": {"type": "string"}},
                    "required": ["Identity"],
                    "additionalProperties": false
                },
                "KeyInfo": {
                    "type": "object",
                    "properties": {
                        "KeyId": {"type": "string"},
                        "Alias": {"type": "string"},
                        "Description": {"type": "string"},
                        "Algorithm": {"type": "string", "enum": ["AES_256", "SM4"]},
                        "Mode": {"type": "string", "enum": ["EXTERNAL", "STANDARD", "SPACE_HARD"]},
                        "SpaceBits": {"type": "integer", "enum": [8, 16, 24]},
                        "Status": {"type": "string", "enum": ["Enabled", "Disabled"]},
                        "CreateTime": {"type": "string", "format": "date-time"},
                        "CurrentVersion": {"type": "integer", "minimum": 1},
                        "Tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
                        "DeviceFingerprintBind": {"type": "boolean"},
                        "DeviceCount": {"type": "integer", "minimum": 0},
                        "KeyRotationEnabled": {"type": "boolean"},
                        "RotateDays": {"type": ["integer", "null"], "minimum": 0},
                        "NextRotateTime": {"type": ["string", "null"], "format": "date-time"}
                    },
                    "required": ["KeyId", "Alias", "Description", "Algorithm", "Mode", "Status", "CreateTime", "CurrentVersion", "Tags", "DeviceFingerprintBind", "DeviceCount", "KeyRotationEnabled", "RotateDays", "NextRotateTime"],
                    "additionalProperties": false
                },
                "KeyVersion": {
                    "type": "object",
                    "properties": {
                        "KeyVersion": {"type": "integer", "minimum": 1},
                        "CreateTime": {"type": "string", "format": "date-time"},
                        "Current": {"type": "boolean", "description": "Whether encryption uses this version."}
                    },
                    "required": ["KeyVersion", "CreateTime", "Current"],
                    "additionalProperties": false
                },
                "Token": credential("TokenId", "The token's id (tok-...)."),
                "AccessKey": credential("SecretId", "The access key's SecretId (AKID...)."),
                "AuditRecord": {
                    "type": "object",
                    "description": "One audit record, as hashed into its chain (wbkms audit show prints the same).",
                    "properties": {
                        "Seq": {"type": "integer", "minimum": 1, "description": "Its number in its chain."},
                        "Instance": {"type": "string", "description": "The chain: the instance that wrote it (audit.log: release 0.1's log)."},
                        "Time": {"type": "string", "format": "date-time"},
                        "RequestId": {"type": "string"},
                        "Action": {"type": "string", "description": "The action as sent (ScheduledRotation: the service's own rotation)."},
                        "KeyIds": {"type": "array", "items": {"type": "string"}},
                        "TokenId": {"type": ["string", "null"], "description": "The credential: a token id or a SecretId."},
                        "Remote": {"type": "string", "description": "The client's address (scheduler, local: not a request)."},
                        "Status": {"type": "integer", "description": "The HTTP status (0: not a request)."},
                        "Code": {"type": "string", "description": "OK or the error code."},
                        "Override": {"type": "string", "description": "A safety rule the request overrode, or what a credential or scheduled change did."},
                        "Prev": {"type": "string", "description": "The hash of the record before it in its chain."},
                        "Hash": {"type": "string"}
                    },
                    "required": ["Seq", "Instance", "Time", "RequestId", "Action", "KeyIds", "TokenId", "Remote", "Status", "Code", "Prev", "Hash"],
                    "additionalProperties": false
                },
                "AuditChain": {
                    "type": "object",
                    "properties": {
                        "Instance": {"type": "string"},
                        "Intact": {"type": "boolean"},
                        "Records": {"type": "integer", "minimum": 0, "description": "Intact: its records, archived ones included."},
                        "Archived": {"type": "integer", "minimum": 0, "description": "Intact: how many of them (the first ones) were archived to files (wbkms serve --audit-archive)."},
                        "ArchiveChecked": {"type": "boolean", "description": "Intact: whether the archived records were read and checked (wbkms audit verify --archive); else the chain was checked from where its records in the store continue."},
                        "Head": {"type": "string", "description": "Intact: its last record's hash, to record elsewhere."},
                        "BrokenAt": {"type": "integer", "minimum": 1, "description": "Not intact: the first bad record."},
                        "Error": {"type": "string", "description": "Not intact because it could not be read: the error's code."},
                        "Reason": {"type": "string", "description": "Not intact: why."}
                    },
                    "required": ["Instance", "Intact"],
                    "additionalProperties": false
                },
                "Error": {
                    "type": "object",
                    "properties": {"Response": {
                        "type": "object",
                        "properties": {
                            "Error": {
                                "type": "object",
                                "properties": {"Code": {"type": "string", "pattern": "^0[1-3][0-9]{6}$"}, "Message": {"type": "string"}},
                                "required": ["Code", "Message"],
                                "additionalProperties": false
                            },
                            "RequestId": {"type": "string", "format": "uuid"}
                        },
                        "required": ["Error", "RequestId"],
                        "additionalProperties": false
                    }},
                    "required": ["Response"]
                }
            },
            "responses": {
                "Error": {
                    "description": "The action failed: 400 bad parameters or unknown action, 401 no or unknown token, 403 role, 404 no such key, version or credential, 408 body not received within the body timeout, 409 alias taken or key disabled, 413 body too large, 429 too many failed authentications, 500 store or audit failure.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                }
            }
        }
    })
}
