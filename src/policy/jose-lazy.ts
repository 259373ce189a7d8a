// jose for RequestAuthentication, loaded the first time a token is verified or a JWKS parsed: a
// waypoint or `egressway check` whose requests carry no JWT never loads it (46 modules, about 2 MB of
// heap and 15 ms of start-up). The cost per token is one resolved promise, next to a signature check.
let jose: Promise<typeof import('jose')> | undefined;

export function loadJose(): Promise<typeof import('jose')> {
  return (jose ??= import('jose'));
}
