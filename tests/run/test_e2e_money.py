"""End-to-end tests of issue 20's money part: run tags (settings defaults, --tag) stored,
sent as batch metadata and shown by runs/status; `fgraph costs` by project, tag, lane and
period; the spend caps refusing before any request; the dry run's request listing; cached
prompt tokens counted. The real fgraph binary, the real Neo4j and the provider emulator,
with the environment and helpers of test_e2e.py.
"""
import json
import os
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_e2e import DROP_A, DROP_B, E2EBase  # noqa: E402


class MoneyE2ETest(E2EBase):

    def api_requests(self):
        """The provider API calls the emulator saw since its last reset."""
        return {k: v for k, v in self.emu.stats()["requests"].items() if "/_emulator/" not in k}

    def costs(self, *args, env=None):
        return self.run_json("costs", *args, env=env)

    def test_tags_reach_runs_status_batch_metadata_and_costs(self):
        env = self.env(FGRAPH_TAGS="project=filings,owner=ana")
        a = self.run_json("run", self.make_drop("a", DROP_A), "--lane", "openai-batch", "--tag", "owner=bo", env=env)
        b = self.run_json("run", self.make_drop("b", DROP_B), "--lane", "anthropic-batch",
                          "--tag", "project=forms", "--tag", "cycle=2026Q4", env=env)
        self.assertEqual(a["tags"], {"project": "filings", "owner": "bo"})
        self.assertEqual(b["tags"], {"project": "forms", "owner": "ana", "cycle": "2026Q4"})
        runs = {r["run_id"]: r for r in (json.loads(l) for l in self.fgraph("runs", "--json", env=env)[1].splitlines())}
        self.assertEqual(runs[a["run_id"]]["tags"], a["tags"])
        self.assertEqual(self.run_json("status", b["run_id"], env=env)["tags"], b["tags"])
        rc, out, _ = self.fgraph("runs", env=env)
        self.assertIn("tags cycle=2026Q4, owner=ana, project=forms", out)
        # The OpenAI batch carried the tags as metadata (Anthropic's batches take none).
        req = urllib.request.Request(
            self.emu.base + "/v1/batches?limit=10", headers={"Authorization": "Bearer sk-test-emulator-key"})
        with urllib.request.urlopen(req, timeout=30) as r:
            [batch] = json.loads(r.read())["data"]
        self.assertEqual((batch["metadata"]["project"], batch["metadata"]["owner"]), ("filings", "bo"))
        # The instructions and schema came from the prompt cache after the first request.
        self.assertGreater(sum(u["cached_input_tokens"] for u in a["usage"] + b["usage"]), 0)

        by_project = self.costs("--by", "project", "--period", "all", env=env)
        lines = {l["key"]: l for l in by_project["lines"]}
        self.assertEqual(set(lines), {"filings", "forms"})
        self.assertAlmostEqual(lines["filings"]["cost_usd"], a["cost_usd"], places=12)
        self.assertAlmostEqual(lines["forms"]["cost_usd"], b["cost_usd"], places=12)
        self.assertEqual(lines["filings"]["attempts"], a["requests"]["attempts"])
        self.assertEqual(by_project["total"]["runs"], 2)
        self.assertAlmostEqual(by_project["total"]["cost_usd"], a["cost_usd"] + b["cost_usd"], places=12)
        self.assertGreater(by_project["total"]["cached_input_tokens"], 0)
        owners = {l["key"]: l["runs"] for l in self.costs("--by", "tag:cycle", env=env)["lines"]}
        self.assertEqual(owners, {"2026Q4": 1, "(none)": 1})
        lanes = {l["key"] for l in self.costs("--by", "lane", "--period", "24h", env=env)["lines"]}
        self.assertEqual(lanes, {"openai-batch", "anthropic-batch"})
        last_day = self.costs("--by", "model", "--period", "24h", env=env)
        self.assertAlmostEqual(last_day["total"]["cost_usd"], by_project["total"]["cost_usd"], places=12)
        self.assertIsNotNone(last_day["since"])
        rc, out, err = self.fgraph("costs", "--by", "project", env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn("filings", out)
        self.assertIn("total", out)
        for bad in (("--by", "colour"), ("--period", "fortnight"), ("--period", "0d")):
            rc, out, err = self.fgraph("costs", *bad, env=env)
            self.assertEqual(rc, 2, f"{bad}: {out}{err}")
        # A tag that OpenAI's batch metadata cannot carry is refused before a run exists.
        rc, out, err = self.fgraph("run", self.make_drop("c", DROP_A), "--lane", "openai-batch",
                                   "--tag", "fgraph_key=x", env=env)
        self.assertEqual(rc, 2, out + err)
        rc, out, err = self.fgraph("run", self.make_drop("c", DROP_A), "--tag", "novalue", env=env)
        self.assertEqual(rc, 2, out + err)

    def test_spend_caps_refuse_before_any_request_and_say_what_is_left(self):
        first = self.run_json("run", self.make_drop("a", DROP_A), "--lane", "openai-batch")
        spent = first["cost_usd"]
        self.assertGreater(spent, 0)
        drop_b = self.make_drop("b", DROP_B)
        plan = self.run_json("run", drop_b, "--lane", "openai-batch", "--dry-run")
        self.emu.control("/_emulator/reset", {})
        cap = spent + plan["estimated_cost_usd"] / 2
        for var in ("FGRAPH_BUDGET_DAILY_USD", "FGRAPH_BUDGET_MONTHLY_USD"):
            env = self.env(**{var: repr(cap)})
            rc, out, err = self.fgraph("run", drop_b, "--lane", "openai-batch", "--json", env=env)
            self.assertEqual(rc, 2, out + err)
            error = json.loads(out.splitlines()[-1])["error"]
            self.assertEqual(error["detail"], "spend_cap")
            self.assertIn(f"${cap - spent:.4f} left", error["message"])
            self.assertIn("nothing was submitted", error["message"])
        self.assertEqual(self.api_requests(), {})
        refused = [json.loads(l) for l in self.fgraph("runs", "--json")[1].splitlines()][-1]
        self.assertEqual(refused["state"], "budget_refused")
        # Once the cap allows it, a plain resume (no new budget needed) finishes the run.
        env = self.env(FGRAPH_BUDGET_DAILY_USD=repr(spent + plan["estimated_cost_usd"] * 2))
        report = self.run_json("run", "--resume", refused["run_id"], env=env)
        self.assertEqual(report["state"], "finished")
        self.assert_reconciled(report)

    def test_dry_run_lists_every_planned_request_with_totals(self):
        drop = self.make_drop("a", DROP_A)
        plan = self.run_json("run", drop, "--lane", "anthropic-batch", "--dry-run")
        requests = plan["plan"]["requests"]
        totals = plan["plan"]["totals"]
        self.assertEqual(len(requests), plan["requests"]["planned"])
        self.assertGreaterEqual(len(requests), len(DROP_A))
        for r in requests:
            self.assertTrue(r["custom_id"].startswith("fg-"), r)
            self.assertTrue(r["doc_id"].startswith("sha256:"), r)
            self.assertTrue(r["source"], r)
            self.assertGreater(r["est_input_tokens"], 0)
            self.assertGreater(r["est_output_tokens"], 0)
            self.assertEqual(r["fate"], "submit")
        self.assertEqual(totals["to_submit"], len(requests))
        self.assertAlmostEqual(totals["est_cost_usd"], sum(r["est_cost_usd"] for r in requests), places=12)
        self.assertAlmostEqual(totals["est_cost_usd"], plan["estimated_cost_usd"], places=12)
        self.assertEqual(totals["est_input_tokens"], sum(r["est_input_tokens"] for r in requests))
        rc, out, err = self.fgraph("run", drop, "--lane", "anthropic-batch", "--dry-run")
        self.assertEqual(rc, 0, err)
        self.assertIn("Planned requests", out)
        for r in requests:
            self.assertIn(r["custom_id"], out)
        self.assertEqual(self.api_requests(), {})


if __name__ == "__main__":
    unittest.main(verbosity=2)
