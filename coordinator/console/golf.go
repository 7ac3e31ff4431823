package console

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/golf/contest"
)

type golfData struct {
	Enabled     bool
	Challenges  []contest.Challenge
	Challenge   *contest.Challenge
	Leaderboard []contest.Record
	// Mine are the signed-in contestant's submissions to the challenge.
	Mine       []contest.Submission
	IsGolfer   bool
	Submission *contest.Submission
	Log        string
	LogNext    int64
	LogVisible bool
}

func (c *Console) golfPage(ctx *fiber.Ctx, v *visit) error {
	d := golfData{Enabled: c.cfg.Golf != nil}
	if d.Enabled {
		var err error
		if d.Challenges, err = c.cfg.Golf.Challenges(ctx.UserContext()); err != nil {
			return err
		}
	}
	return c.render(ctx, fiber.StatusOK, "golf", pageData{Title: "zkGolf", Nav: "golf", Visit: v, Data: d})
}

func (c *Console) golfChallengePage(ctx *fiber.Ctx, v *visit) error {
	if c.cfg.Golf == nil {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "zkGolf is not enabled on this coordinator")
	}
	ch, err := c.cfg.Golf.Challenge(ctx.UserContext(), ctx.Params("slug"))
	if err != nil {
		return err
	}
	d := golfData{Enabled: true, Challenge: &ch}
	if d.Leaderboard, err = c.cfg.Golf.Leaderboard(ctx.UserContext(), ch.Slug, c.cfg.PageSize); err != nil {
		return err
	}
	if v.Golfer != "" {
		d.IsGolfer = true
		if d.Mine, err = c.cfg.Golf.Mine(ctx.UserContext(), v.GolferID, ch.Slug, c.cfg.PageSize); err != nil {
			return err
		}
	}
	return c.render(ctx, fiber.StatusOK, "golf", pageData{Title: "zkGolf " + ch.Title, Nav: "golf", Visit: v, Data: d})
}

// golfSubmissionPage shows a submission; its verifier log, which grows
// live, is shown to operators and to the contestant who submitted it.
func (c *Console) golfSubmissionPage(ctx *fiber.Ctx, v *visit) error {
	if c.cfg.Golf == nil {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "zkGolf is not enabled on this coordinator")
	}
	sub, err := c.cfg.Golf.Submission(ctx.UserContext(), ctx.Params("id"))
	if err != nil {
		return err
	}
	d := golfData{Enabled: true, Submission: &sub, LogVisible: v.ReadsLogOf(sub.User)}
	if d.LogVisible {
		if d.Log, d.LogNext, err = c.cfg.DB.GolfLog(ctx.UserContext(), sub.ID, 0, contest.MaxLogPageBytes); err != nil {
			return err
		}
	}
	return c.render(ctx, fiber.StatusOK, "golf", pageData{Title: "zkGolf submission", Nav: "golf", Visit: v, Data: d})
}

// golfLog returns the log from ?since=, for the page's live tail.
func (c *Console) golfLog(ctx *fiber.Ctx, v *visit) error {
	if c.cfg.Golf == nil {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "zkGolf is not enabled on this coordinator")
	}
	if !v.Operator() {
		sub, err := c.cfg.Golf.Submission(ctx.UserContext(), ctx.Params("id"))
		if err != nil {
			return err
		}
		if !v.ReadsLogOf(sub.User) {
			return proofgrid.Errorf(proofgrid.EFORBIDDEN, "a verifier log is for its submitter and operators; sign in with the zkGolf token that submitted it")
		}
	}
	since, _ := strconv.ParseInt(ctx.Query("since"), 10, 64)
	text, next, err := c.cfg.DB.GolfLog(ctx.UserContext(), ctx.Params("id"), max(since, 0), contest.MaxLogPageBytes)
	if err != nil {
		return err
	}
	ctx.Set("X-Log-Next", strconv.FormatInt(next, 10))
	ctx.Set(fiber.HeaderCacheControl, "no-store")
	return ctx.Type("txt").SendString(text)
}
