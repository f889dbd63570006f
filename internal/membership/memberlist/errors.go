package memberlist

import "errors"

// ErrConfig: the configuration is invalid; the error says what is wrong.
var ErrConfig = errors.New("riakgo/membership/memberlist: invalid config")
