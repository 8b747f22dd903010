/**
 * The API's paths, requests and answers as TypeScript types, made by
 * openapi-typescript from /openapi.json. Do not edit: `npm run client:types`
 * makes it again (scripts/client-types.ts).
 */

export interface paths {
    "/v1/notifications": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Accept a notification: one email per recipient, sent durably */
        post: {
            parameters: {
                query?: never;
                header?: {
                    /** @description The same key with the same body returns the first answer. */
                    "Idempotency-Key"?: string;
                };
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["NotificationRequest"];
                };
            };
            responses: {
                /** @description Stored durably; every recipient will be sent or reported. */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Accepted"];
                    };
                };
                /** @description INVALID_JSON: The body is not JSON, or not `application/json`. */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description UNAUTHORIZED: No `Authorization: Bearer <API_TOKEN>` header, or a wrong token. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description IDEMPOTENCY_IN_PROGRESS: A request with this `Idempotency-Key` is still being stored; retry shortly. */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description PAYLOAD_TOO_LARGE: The body is larger than `BODY_LIMIT_BYTES`. */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description UNSUPPORTED_MEDIA_TYPE: The body is not `application/json`. */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description INVALID_REQUEST: The body breaks the contract; `issues` names every wrong field by its path. IDEMPOTENCY_KEY_REUSED: This `Idempotency-Key` was used with another body. */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description OUTBOX_UNAVAILABLE: The outbox cannot be reached now (disk full, or Redis down): nothing was stored, or the status cannot be read. Retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/notifications/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every recipient's delivery status */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The notification and its recipients */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["NotificationStatus"];
                    };
                };
                /** @description BAD_REQUEST: The request line, a header or the path cannot be read (a broken percent-encoding, for example). */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description UNAUTHORIZED: No `Authorization: Bearer <API_TOKEN>` header, or a wrong token. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description NOT_FOUND: No such notification, or no such endpoint. */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description URL_TOO_LONG: A path segment is longer than any id the service hands out. */
                414: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description OUTBOX_UNAVAILABLE: The outbox cannot be reached now (disk full, or Redis down): nothing was stored, or the status cannot be read. Retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /**
         * Erase a notification now: its request, recipients, statuses and events (an erasure request under GDPR or 152-ФЗ)
         * @description Recipients not sent yet are never sent; a message already on the wire may still arrive. Its webhook events not yet delivered are dropped. Afterwards the notification answers 404, and its Idempotency-Key is free again.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Erased */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description BAD_REQUEST: The request line, a header or the path cannot be read (a broken percent-encoding, for example). */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description UNAUTHORIZED: No `Authorization: Bearer <API_TOKEN>` header, or a wrong token. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description NOT_FOUND: No such notification, or no such endpoint. */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description URL_TOO_LONG: A path segment is longer than any id the service hands out. */
                414: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description OUTBOX_UNAVAILABLE: The outbox cannot be reached now (disk full, or Redis down): nothing was stored, or the status cannot be read. Retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/bounces": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Take a bounce piped in by a mail server (only with BOUNCE_SECRET) */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "message/rfc822": string;
                };
            };
            responses: {
                /** @description Read: bounced or noted (a delay) when it named a delivery of ours, else ignored with why */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {string} */
                            outcome?: "bounced" | "noted" | "ignored";
                            reason?: string;
                        };
                    };
                };
                /** @description UNAUTHORIZED: No `Authorization: Bearer <API_TOKEN>` header, or a wrong token. */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description PAYLOAD_TOO_LARGE: The body is larger than `BODY_LIMIT_BYTES`. */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description UNSUPPORTED_MEDIA_TYPE: The body is not `application/json`. */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description OUTBOX_UNAVAILABLE: The outbox cannot be reached now (disk full, or Redis down): nothing was stored, or the status cannot be read. Retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: the process works. `smtp` says whether the relay answers (checked at most every 30 s); it never fails this probe */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description alive */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness: the outbox takes writes (on Redis: Redis answers). `smtp` reports the relay, and does not fail readiness */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description ready */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description not ready, with why */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus text: deliveries by status, counters since start */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description metrics */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description OUTBOX_UNAVAILABLE: The outbox cannot be reached now (disk full, or Redis down): nothing was stored, or the status cannot be read. Retry later. */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            error: {
                                /** @enum {string} */
                                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                                message: string;
                                issues: {
                                    /** @example event.conference.joinUrl */
                                    path?: string;
                                    message?: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export interface webhooks {
    deliveryStatus: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A recipient reached a final status, or a delay was reported
         * @description Signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature: HMAC-SHA-256 under WEBHOOK_SECRET). At least once, the same webhook-id on a repeat; per recipient in order. Answer 2xx to take it.
         */
        post: {
            parameters: {
                query?: never;
                header: {
                    "webhook-id": string;
                    "webhook-timestamp": string;
                    "webhook-signature": string;
                };
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @enum {string} */
                        type?: "delivery.sent" | "delivery.failed" | "delivery.expired" | "delivery.unknown" | "delivery.superseded" | "delivery.bounced" | "delivery.delayed";
                        /** Format: date-time */
                        timestamp?: string;
                        data?: {
                            notificationId?: string;
                            position?: number;
                            recipient?: string;
                            status?: string;
                            messageId?: string | null;
                            lastReply?: {
                                code: string;
                                responseCode: number | null;
                                response: string | null;
                                message: string;
                            } | null;
                            /** @description The last delivery status notification (RFC 3464) about it: why it bounced, or that it is delayed. */
                            report?: {
                                /** @enum {string} */
                                action: "failed" | "delayed";
                                /** @description Enhanced status code (RFC 3463), 5.1.1 */
                                status: string | null;
                                diagnostic: string | null;
                                remoteMta: string | null;
                                reportingMta: string | null;
                                /** Format: date-time */
                                receivedAt: string;
                            } | null;
                        };
                    };
                };
            };
            responses: {
                /** @description Taken; anything else, or no answer in WEBHOOK_TIMEOUT_MS, is retried with backoff */
                "2XX": {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export interface components {
    schemas: {
        NotificationRequest: {
            /** @enum {string} */
            type: "invitation" | "update" | "cancellation" | "reply";
            event: {
                uid: string;
                sequence: number;
                title: string;
                description?: string;
                location?: string;
                start: string;
                end: string;
                timeZone: string;
                /** @default false */
                allDay?: boolean;
                recurrence?: {
                    /** @enum {string} */
                    frequency: "daily" | "weekly" | "monthly" | "yearly";
                    /** @default 1 */
                    interval?: number;
                    byWeekday?: ("MO" | "TU" | "WE" | "TH" | "FR" | "SA" | "SU")[];
                    byMonthDay?: number[];
                    count?: number;
                    until?: string;
                    exceptions?: string[];
                };
                occurrence?: string;
                /** @default null */
                conference?: {
                    /** @enum {string} */
                    provider: "trueconf" | "skype-for-business" | "teams" | "zoom" | "jitsi" | "google-meet" | "yandex-telemost" | "other";
                    joinUrl: string;
                    label?: string;
                    conferenceId?: string;
                    dialIn?: {
                        number: string;
                        pin?: string;
                    }[];
                } | null;
                url?: string;
            };
            organizer: {
                name: string;
                email: string;
                locale?: string;
                timeZone?: string;
            };
            attendees: {
                name: string;
                email: string;
                /**
                 * @default required
                 * @enum {string}
                 */
                role?: "chair" | "required" | "optional";
                /**
                 * @default needs-action
                 * @enum {string}
                 */
                status?: "needs-action" | "accepted" | "declined" | "tentative";
            }[];
            recipients?: {
                email: string;
                locale?: string;
                timeZone?: string;
                rsvp?: {
                    accept?: string;
                    tentative?: string;
                    decline?: string;
                };
                agenda?: {
                    title: string;
                    start: string;
                    end: string;
                    /** @default false */
                    allDay?: boolean;
                }[];
            }[];
            changes?: {
                fields: ("title" | "time" | "location" | "description" | "recurrence" | "conference" | "attendees")[];
                /** @default {} */
                previous?: {
                    title?: string;
                    start?: string;
                    end?: string;
                    allDay?: boolean;
                    location?: string | null;
                    description?: string | null;
                    recurrence?: {
                        /** @enum {string} */
                        frequency: "daily" | "weekly" | "monthly" | "yearly";
                        /** @default 1 */
                        interval?: number;
                        byWeekday?: ("MO" | "TU" | "WE" | "TH" | "FR" | "SA" | "SU")[];
                        byMonthDay?: number[];
                        count?: number;
                        until?: string;
                        exceptions?: string[];
                    } | null;
                    conference?: {
                        /** @enum {string} */
                        provider: "trueconf" | "skype-for-business" | "teams" | "zoom" | "jitsi" | "google-meet" | "yandex-telemost" | "other";
                        joinUrl: string;
                        label?: string;
                        conferenceId?: string;
                        dialIn?: {
                            number: string;
                            pin?: string;
                        }[];
                    } | null;
                    attendees?: {
                        name: string;
                        email: string;
                        /**
                         * @default required
                         * @enum {string}
                         */
                        role?: "chair" | "required" | "optional";
                        /**
                         * @default needs-action
                         * @enum {string}
                         */
                        status?: "needs-action" | "accepted" | "declined" | "tentative";
                    }[];
                };
            };
            reply?: {
                attendee: string;
                /** @enum {string} */
                status: "accepted" | "declined" | "tentative";
                comment?: string;
            };
        };
        Accepted: {
            id: string;
            recipients: {
                email: string;
                /** @enum {string} */
                status: "queued" | "sending" | "sent" | "retrying" | "failed" | "expired" | "unknown" | "superseded" | "bounced";
            }[];
        };
        NotificationStatus: {
            id: string;
            /** @description How many recipients are in each status (every status named, 0 for none). */
            totals: {
                queued: number;
                sending: number;
                sent: number;
                retrying: number;
                failed: number;
                expired: number;
                unknown: number;
                superseded: number;
                bounced: number;
            };
            type: string;
            event: {
                uid: string;
                sequence: number;
            };
            /** Format: date-time */
            acceptedAt: string;
            /** Format: date-time */
            deadlineAt: string;
            recipients: {
                email: string;
                /** @enum {string} */
                status: "queued" | "sending" | "sent" | "retrying" | "failed" | "expired" | "unknown" | "superseded" | "bounced";
                attempts: number;
                lastReply: {
                    code: string;
                    responseCode: number | null;
                    response: string | null;
                    message: string;
                } | null;
                messageId: string | null;
                /** Format: date-time */
                queuedAt: string;
                /** Format: date-time */
                updatedAt: string;
                /** Format: date-time */
                sentAt: string | null;
                /** Format: date-time */
                nextAttemptAt: string | null;
                /** @description The last delivery status notification (RFC 3464) about it: why it bounced, or that it is delayed. */
                report: {
                    /** @enum {string} */
                    action: "failed" | "delayed";
                    /** @description Enhanced status code (RFC 3463), 5.1.1 */
                    status: string | null;
                    diagnostic: string | null;
                    remoteMta: string | null;
                    reportingMta: string | null;
                    /** Format: date-time */
                    receivedAt: string;
                } | null;
            }[];
        };
        Error: {
            error: {
                /** @enum {string} */
                code: "INVALID_JSON" | "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "IDEMPOTENCY_IN_PROGRESS" | "PAYLOAD_TOO_LARGE" | "URL_TOO_LONG" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_REQUEST" | "IDEMPOTENCY_KEY_REUSED" | "HEADERS_TOO_LARGE" | "OUTBOX_UNAVAILABLE" | "INTERNAL";
                message: string;
                issues: {
                    /** @example event.conference.joinUrl */
                    path?: string;
                    message?: string;
                }[];
            };
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
