package pool

import (
	"cmp"
	"math/big"
	"slices"
)

// Activity is what one miner did in a reward window.
type Activity struct {
	Hotkey string
	// Agreed and Outliers count its evaluations in the window that a
	// verified consensus found agreeing or outlying.
	Agreed, Outliers int64
	// Evolutions counts the algorithms it evolved in the window.
	Evolutions int64
}

// Considered is the activity that earns: agreeing evaluations plus
// evolutions.
func (a Activity) Considered() int64 { return a.Agreed + a.Evolutions }

// InConsensus reports whether most of the miner's verified evaluations in
// the window agreed: more agreeing than outlying, and at least one.
func (a Activity) InConsensus() bool { return a.Agreed > 0 && a.Agreed > a.Outliers }

// WindowReward is one miner's share of a window's pool.
type WindowReward struct {
	Hotkey   string
	Activity int64
	Amount   *big.Int
}

// SplitWindow splits pool between the miners in consensus whose considered
// activity reaches minActivity, in proportion to that activity, with the
// largest-remainder method:
//
//  1. each eligible miner gets floor(pool × activity / total activity);
//  2. the units left over (fewer than the number of miners) go one each to
//     the miners with the largest remainder (pool × activity mod total),
//     ties broken by hotkey, ascending.
//
// Below the minimum a miner gets nothing, and there is no fallback: when no
// miner is eligible nothing is paid and the window's pool is not carried
// over. The amounts sum to pool exactly when anyone is eligible. The result
// holds the eligible miners only, sorted by hotkey; duplicate hotkeys in
// acts are merged first.
func SplitWindow(pool *big.Int, minActivity int64, acts []Activity) []WindowReward {
	merged := map[string]Activity{}
	for _, a := range acts {
		m := merged[a.Hotkey]
		m.Hotkey = a.Hotkey
		m.Agreed += a.Agreed
		m.Outliers += a.Outliers
		m.Evolutions += a.Evolutions
		merged[a.Hotkey] = m
	}
	type cell struct {
		WindowReward
		rem *big.Int
	}
	var cells []cell
	total := new(big.Int)
	for _, a := range merged {
		if !a.InConsensus() || a.Considered() < minActivity || a.Considered() <= 0 {
			continue
		}
		cells = append(cells, cell{WindowReward: WindowReward{Hotkey: a.Hotkey, Activity: a.Considered()}})
		total.Add(total, big.NewInt(a.Considered()))
	}
	if len(cells) == 0 || pool.Sign() <= 0 {
		return nil
	}
	left := new(big.Int).Set(pool)
	for i := range cells {
		q, r := new(big.Int).QuoRem(new(big.Int).Mul(pool, big.NewInt(cells[i].Activity)), total, new(big.Int))
		cells[i].Amount, cells[i].rem = q, r
		left.Sub(left, q)
	}
	slices.SortFunc(cells, func(a, b cell) int {
		if c := b.rem.Cmp(a.rem); c != 0 {
			return c
		}
		return cmp.Compare(a.Hotkey, b.Hotkey)
	})
	one := big.NewInt(1)
	for i := 0; left.Sign() > 0; i++ {
		cells[i].Amount.Add(cells[i].Amount, one)
		left.Sub(left, one)
	}
	out := make([]WindowReward, len(cells))
	for i, c := range cells {
		out[i] = c.WindowReward
	}
	slices.SortFunc(out, func(a, b WindowReward) int { return cmp.Compare(a.Hotkey, b.Hotkey) })
	return out
}
