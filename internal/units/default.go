package units

// MinShare is the least memory budget, after the runtime's own overhead,
// that Default leaves each unit: below it a unit's producer buffer and
// fetches get small enough that more units copy slower than fewer.
const MinShare = 48 << 20

// MaxDefault is the most units Default picks: on a 2-core machine two units
// copy as fast as one and four 10% slower (BENCHMARKS.md, "Work units in one
// process"), so more units than cores buy nothing in one process, and a
// migration that needs more (several processes) asks for them with --units.
const MaxDefault = 4

// Default is the number of units a new migration is divided into when the
// user does not say (mirror --units): one per core, at least 2 so that a
// commit in one unit never stalls the whole copy, at most MaxDefault, and
// fewer when the memory budget left after the runtime's overhead (usable)
// cannot give each unit MinShare. It is 1 when even two units do not fit.
func Default(cores int, usable int64) int {
	n := min(max(cores, 2), MaxDefault)
	for n > 1 && usable/int64(n) < MinShare {
		n--
	}
	return n
}
