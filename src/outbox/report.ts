/**
 * A delivery report as both outboxes store it and the status API shows it.
 */
import type { DeliveryReport } from '../delivery/policy.ts';
import type { StoredReport } from './outbox.ts';

/** @example storedReport({ action: 'failed', status: '5.1.1', …, at }).receivedAt // ISO time */
export function storedReport(report: DeliveryReport): StoredReport {
  return {
    action: report.action,
    status: report.status,
    diagnostic: report.diagnostic,
    remoteMta: report.remoteMta,
    reportingMta: report.reportingMta,
    receivedAt: new Date(report.at).toISOString(),
  };
}
