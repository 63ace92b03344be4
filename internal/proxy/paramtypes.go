package proxy

// COM_STMT_EXECUTE layout for a statement with n > 0 parameters:
//
//	command (1) | statement id (4) | flags (1) | iteration count (4) |
//	NULL bitmap ((n+7)/8) | new_params_bound_flag (1) | [types (2n)] | values
//
// A client sends the types (flag 1) on the first EXECUTE and whenever they
// change; later EXECUTEs (flag 0) rely on the server remembering them.
// A backend that never saw them (the statement prepared there after a
// failover, or on a replica) needs them put back: see addParamTypes.

// boundFlagOffset is the offset of new_params_bound_flag in an EXECUTE of
// a statement with params parameters.
func boundFlagOffset(params int) int {
	return execHeaderLen + (params+7)/8
}

// paramTypes returns the parameter types an EXECUTE of a statement with
// params > 0 parameters carries (a slice of p, 2*params bytes), or false
// when it carries none or is too short to hold them.
func paramTypes(p []byte, params int) ([]byte, bool) {
	if params <= 0 {
		return nil, false
	}
	off := boundFlagOffset(params)
	if len(p) <= off || p[off] == 0 || len(p) < off+1+2*params {
		return nil, false
	}
	return p[off+1 : off+1+2*params], true
}

// addParamTypes appends to dst the EXECUTE p (of a statement with params >
// 0 parameters, sent without types) rewritten to carry types: the flag
// set to 1 and types inserted after it, before the values. It returns
// false, and dst unchanged, when p does not have that shape (too short,
// the flag not 0) or types is not 2*params bytes long. p is not modified.
func addParamTypes(dst, p []byte, params int, types []byte) ([]byte, bool) {
	if params <= 0 || len(types) != 2*params {
		return dst, false
	}
	off := boundFlagOffset(params)
	if len(p) <= off || p[off] != 0 {
		return dst, false
	}
	dst = append(dst, p[:off]...)
	dst = append(dst, 1)
	dst = append(dst, types...)
	return append(dst, p[off+1:]...), true
}
