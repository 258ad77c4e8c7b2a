package offsetmap_test

import (
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"

	"github.com/kmigrate/kmigrate/internal/offsetmap"
)

// randomPairs copies n records with random gaps on both sides: compaction
// holes and transaction markers in the source, a marker after every
// transaction and some natively written records in the target.
func randomPairs(rng *rand.Rand, n int) []pair {
	source := rng.Int64N(50)
	target := rng.Int64N(50)
	txn := 1 + rng.IntN(20)        // records per target transaction
	holes := rng.Float64() * 0.5   // probability of a source gap
	natives := rng.Float64() * 0.1 // probability of a native target record
	var pairs []pair
	for i := range n {
		if rng.Float64() < holes {
			source += 1 + rng.Int64N(5)
		}
		if rng.Float64() < natives {
			target += 1 + rng.Int64N(3)
		}
		pairs = append(pairs, pair{source, target})
		source++
		target++
		if (i+1)%txn == 0 {
			target++ // our commit marker
		}
	}
	return pairs
}

// naiveNext answers Lookup (or Reverse, with the pairs swapped) from the
// list of every mapped pair, sorted by .source.
func naiveNext(pairs []pair, in int64) (int64, bool) {
	i := sort.Search(len(pairs), func(i int) bool { return pairs[i].source >= in })
	if i == len(pairs) {
		return pairs[len(pairs)-1].target + 1, false
	}
	return pairs[i].target, pairs[i].source == in
}

func TestPropertyLookupReverse(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 42))
		pairs := randomPairs(rng, rng.IntN(1500)+1)
		m := build(t, pairs)
		swapped := make([]pair, len(pairs))
		for i, p := range pairs {
			swapped[i] = pair{p.target, p.source}
		}
		last := pairs[len(pairs)-1]
		if m.Records() != int64(len(pairs)) || m.SourceEnd() != last.source+1 || m.TargetEnd() != last.target+1 {
			t.Fatalf("seed %d: Records, SourceEnd, TargetEnd = %d, %d, %d; want %d, %d, %d",
				seed, m.Records(), m.SourceEnd(), m.TargetEnd(), len(pairs), last.source+1, last.target+1)
		}
		for s := int64(-2); s <= last.source+3; s++ {
			want, wantExact := naiveNext(pairs, s)
			got, exact, ok := m.Lookup(s)
			if got != want || exact != wantExact || !ok {
				t.Fatalf("seed %d: Lookup(%d) = %d, %v, %v; want %d, %v", seed, s, got, exact, ok, want, wantExact)
			}
		}
		for tg := int64(-2); tg <= last.target+3; tg++ {
			want, wantExact := naiveNext(swapped, tg)
			got, exact, ok := m.Reverse(tg)
			if got != want || exact != wantExact || !ok {
				t.Fatalf("seed %d: Reverse(%d) = %d, %v, %v; want %d, %v", seed, tg, got, exact, ok, want, wantExact)
			}
		}
		// Since(s) is the map of the pairs at or after s.
		s := pairs[rng.IntN(len(pairs))].source + rng.Int64N(3) - 1
		i := sort.Search(len(pairs), func(i int) bool { return pairs[i].source >= s })
		if got, want := m.Since(s), build(t, pairs[i:]).Runs(); !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: Since(%d) = %v, want %v", seed, s, got, want)
		}
		// The runs survive encoding.
		if got, err := offsetmap.Decode(offsetmap.AppendEncoded(nil, m.Runs())); err != nil || !reflect.DeepEqual(got, m.Runs()) {
			t.Fatalf("seed %d: encoding round trip = %v, %v", seed, got, err)
		}
	}
}

// TestPropertySegmenter mirrors random transactions, some aborted, through
// a Segmenter and checks the persistence contract: reloading every
// committed segment record, in any order, gives the committed map; segments
// respect the size; a restarted Segmenter continues identically.
func TestPropertySegmenter(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		maxRuns := 1 + rng.IntN(8)
		pairs := randomPairs(rng, rng.IntN(800)+1)
		s, err := offsetmap.NewSegmenter(nil, maxRuns)
		if err != nil {
			t.Fatal(err)
		}
		var committed offsetmap.Map // the records of committed transactions
		var written []offsetmap.Segment
		restarts := 0
		for len(pairs) > 0 {
			n := min(len(pairs), 1+rng.IntN(3*maxRuns))
			txn := pairs[:n]
			for _, p := range txn {
				if err := s.Add(p.source, p.target); err != nil {
					t.Fatal(err)
				}
			}
			pending := s.Pending()
			for _, sg := range pending {
				if len(sg.Runs) > maxRuns {
					t.Fatalf("seed %d: segment %d has %d runs, more than %d", seed, sg.Key, len(sg.Runs), maxRuns)
				}
			}
			if rng.IntN(5) == 0 {
				// Aborted: the records are copied again in a later
				// transaction, at later target offsets.
				s.Abort()
				shift := 1 + rng.Int64N(3)
				for i := range pairs {
					pairs[i].target += int64(n) + shift
				}
				continue
			}
			for _, p := range txn {
				if err := committed.Add(p.source, p.target); err != nil {
					t.Fatal(err)
				}
			}
			// Values go through the encoding, as they would on a topic.
			for _, sg := range pending {
				d, err := offsetmap.DecodeSegment(sg.Key, sg.AppendValue(nil))
				if err != nil {
					t.Fatal(err)
				}
				written = append(written, d)
			}
			s.Commit()
			pairs = pairs[n:]
			if rng.IntN(10) == 0 {
				restarts++
				if s, err = offsetmap.NewSegmenter(shuffled(rng, written), maxRuns); err != nil {
					t.Fatalf("seed %d: restart: %v", seed, err)
				}
			}
			if got, want := s.Map().Runs(), committed.Runs(); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d (%d restarts): Segmenter map = %v, want %v", seed, restarts, got, want)
			}
		}
		m, err := offsetmap.Load(shuffled(rng, written))
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if got, want := m.Runs(), committed.Runs(); !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: loaded %v, want %v", seed, got, want)
		}
		keys := map[int64]bool{}
		for _, sg := range written {
			keys[sg.Key] = true
		}
		if want := (committed.Len() + maxRuns - 1) / maxRuns; len(keys) != want {
			t.Fatalf("seed %d: %d segment keys for %d runs of at most %d, want %d", seed, len(keys), committed.Len(), maxRuns, want)
		}
	}
}

func shuffled(rng *rand.Rand, segs []offsetmap.Segment) []offsetmap.Segment {
	out := append([]offsetmap.Segment(nil), segs...)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
