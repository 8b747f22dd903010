/**
 * An event as a release before facts stored it (a webhook payload), for the
 * tests that an outbox takes over an earlier release's data.
 */
export const EARLIER_AT = Date.parse('2026-12-01T10:00:00.000Z');

/** The `data` of the stored webhook payload: what becomes the fact, with `at`. */
export const EARLIER_DATA = {
  notificationId: 'n1',
  position: 0,
  recipient: 'a@partner.example',
  status: 'failed',
  messageId: '<m@x>',
  lastReply: { code: 'EENVELOPE', responseCode: 550, response: '550 no', message: 'no' },
  report: null,
};

/** The payload as the earlier release stored it, byte for byte what its webhook sent. */
export const EARLIER_PAYLOAD = JSON.stringify({ type: 'delivery.failed', timestamp: new Date(EARLIER_AT).toISOString(), data: EARLIER_DATA });
