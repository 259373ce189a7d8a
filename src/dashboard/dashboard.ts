// The admin-port dashboard (`/`): one static page plus uPlot, served from the installed npm package
// so the page makes no request beyond this admin listener (no CDN). The page polls /stats/summary.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { send, type Handler } from './admin-server.ts';
import { DASHBOARD_HTML } from './dashboard-page.ts';

const require = createRequire(import.meta.url);

function asset(file: string, type: string): Handler {
  let body: string | undefined; // read on first request, then kept: the file is immutable
  return (_req, res) => {
    body ??= readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
    send(res, 200, body, type);
  };
}

export function dashboardRoutes(): Record<string, Handler> {
  return {
    '/': (_req, res) => send(res, 200, DASHBOARD_HTML, 'text/html; charset=utf-8'),
    '/assets/uPlot.iife.min.js': asset('uPlot.iife.min.js', 'text/javascript; charset=utf-8'),
    '/assets/uPlot.min.css': asset('uPlot.min.css', 'text/css; charset=utf-8'),
  };
}
