// Port protocols live in the model (compile and the data plane need them too); re-exported for the
// config validators that import them from here.
export * from '../../model/protocol.ts';
