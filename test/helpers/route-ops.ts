// Reads a compiled rule's response header edits, wherever compile put them: on the rule (redirects,
// direct responses, HTTPRoute) or, for a VirtualService forward, on its first destination.
import type { RouteRule } from '../../src/model/route.ts';

export function responseSet(rule: RouteRule | undefined, name: string): string | undefined {
  const ops = rule?.responseHeaders ?? (rule?.action.kind === 'forward' ? rule.action.clusters[0]?.responseHeaders : undefined);
  return ops?.set.find(([k]) => k === name)?.[1];
}
