package lab

import (
	"fmt"

	"github.com/riakgo/riakgo/dt"
)

// balanceOp is a deposit (or, negative, a withdrawal) as an operation on
// a data type that holds a balance.
func balanceOp(k dt.Kind, amount int64) (dt.Op, error) {
	switch k {
	case dt.KindCounter:
		return dt.CounterOp{Delta: amount}, nil
	case dt.KindOpLog:
		return dt.OpLogOp{Amount: amount}, nil
	}
	return nil, fmt.Errorf("no balance operation for %s", k)
}

// balanceValue extracts the balance from a data type's client value.
func balanceValue(v any) any {
	if ol, ok := v.(dt.OpLogValue); ok {
		return ol.Balance
	}
	return v
}
