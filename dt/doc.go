// Package dt will hold riakgo's convergent data types (counter, ORSWOT set,
// map, register, flag, gset, hll, the versioned op-log register, the bounded
// counter and process-group state) with one generic property-test harness.
//
// Not built yet: the data-type issue fills it. Sibling resolution for plain
// objects lives in package siblings meanwhile.
package dt
