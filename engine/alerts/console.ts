/**
 * The console channel: always on, so that with no keys configured every alert is still seen
 * (and recorded as delivered, so a restart does not print the backlog again).
 */
import { LIMITS } from '../../validator/limits';
import { consoleLine } from './format';
import type { Alert, AlertChannel, Delivered } from './types';

export class ConsoleChannel implements AlertChannel {
  readonly name = 'console';
  readonly batchSize = LIMITS.alerts.consoleBatch;
  readonly batchMarks = true;

  /** `log` receives one line per alert (the CLI passes its own, to keep its progress line intact). */
  constructor(private readonly log: (line: string) => void = (l) => console.log(l)) {}

  accepts(): boolean {
    return true;
  }

  async deliver(alert: Alert): Promise<Delivered> {
    this.log(consoleLine(alert));
    return {};
  }
}
