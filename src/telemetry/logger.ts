// Operational log: JSON lines (pino) on stdout, one line per event with the cause and next step.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level = 'info'): Logger {
  return pino({ level, base: { component: 'egressway' } }, pino.destination({ dest: 1, sync: true }));
}
