// The version Egressway reports (CLI --version, istio_build, OTLP service.version). A module of its
// own so that the CLI can print it without loading the metrics registry.
export const VERSION = '0.1.0';
