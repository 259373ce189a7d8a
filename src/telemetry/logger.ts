// Operational log: JSON lines (pino) on stdout, one line per event with the cause and next step.
import pino from 'pino';

export type Logger = pino.Logger;

/** `dest`: where lines go instead of stdout (`run --concurrency N` sends them through one writer). */
export function createLogger(level = 'info', dest?: { write(s: string): void }): Logger {
  return pino({ level, base: { component: 'egressway' } }, dest ?? pino.destination({ dest: 1, sync: true }));
}
