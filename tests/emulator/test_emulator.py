#!/usr/bin/env python3
"""Self-test of the provider emulator (stdlib unittest). Starts emulator.py on a free port and
drives it over HTTP the way the fgraph C++ clients will. Run: python3 tests/emulator/test_emulator.py"""

import http.client
import json
import os
import re
import subprocess
import sys
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import emulator  # noqa: E402  (for schema_errors and document_of)

OPENAI_AUTH = {"Authorization": "Bearer test-key"}
ANTHROPIC_AUTH = {"x-api-key": "test-key", "anthropic-version": "2023-06-01"}
with open(os.path.join(HERE, "..", "..", "schemas", "extraction.v1.json")) as _f:
    SCHEMA = json.load(_f)

DOCS = {
    "doc-a": "ANNUAL REPORT\nBraeburn Capital, Inc. is a wholly-owned subsidiary of Apple Inc. located in Nevada.\n"
             "Timothy D. Cook, Chief Executive Officer of Apple Inc., signed this report.\n",
    "doc-b": "CURRENT REPORT\nOn March 3, 2021, Zephyr Widgets Corp. acquired Northwind Traders LLC for cash.\n"
             "Maria Lopez, Chief Financial Officer, approved the transaction.\n",
    "doc-c": "PROXY STATEMENT\nThe board of Quartz Mining Limited approved an agreement with Harbor Bank N.V. in 2022.\n",
}


def prompt(doc: str) -> str:
    return ("Extract the entities and relations stated in the filing below. Quote evidence verbatim.\n"
            "<document>\n" + doc + "\n</document>\nAnswer with JSON only.")


def chat_body(doc: str, max_tokens: int = 2000) -> dict:
    return {"model": "gpt-4o-mini", "temperature": 0, "max_completion_tokens": max_tokens,
            "messages": [{"role": "system", "content": "You extract facts from one filing."},
                         {"role": "user", "content": prompt(doc)}],
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "extraction_v1", "schema": SCHEMA, "strict": True}}}


def messages_params(doc: str, max_tokens: int = 2000) -> dict:
    return {"model": "claude-haiku-4-5", "max_tokens": max_tokens, "system": "You extract facts from one filing.",
            "messages": [{"role": "user", "content": prompt(doc)}],
            "tools": [{"name": "emit_extraction", "description": "Emit the extraction", "input_schema": SCHEMA}],
            "tool_choice": {"type": "tool", "name": "emit_extraction"}}


class EmulatorTest(unittest.TestCase):
    proc = None
    port = None

    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "emulator.py"), "--port", "0"],
                                    stdout=subprocess.PIPE, stderr=None, text=True)
        line = cls.proc.stdout.readline()
        m = re.match(r"LISTENING (\d+)$", line.strip())
        if not m:
            cls.proc.kill()
            raise RuntimeError(f"emulator did not print LISTENING: {line!r}")
        cls.port = int(m.group(1))

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        try:
            cls.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            cls.proc.wait()
        cls.proc.stdout.close()

    def setUp(self):
        self.call("POST", "/_emulator/reset", {})

    # -- helpers -------------------------------------------------------------------------------

    def call(self, method, path, body=None, headers=None, raw=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        conn.close()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload

    def ok_json(self, method, path, body=None, headers=None, raw=None, status=200):
        st, _, payload = self.call(method, path, body, headers, raw)
        self.assertEqual(st, status, payload[:500])
        return json.loads(payload)

    def configure(self, **cfg):
        self.ok_json("POST", "/_emulator/config", cfg)

    def upload(self, lines, filename="batch.jsonl"):
        boundary = "----fgraph" + uuid.uuid4().hex
        content = "".join(json.dumps(x) + "\n" for x in lines).encode()
        raw = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
               f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
               f"Content-Type: application/jsonl\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
        headers = dict(OPENAI_AUTH, **{"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return self.ok_json("POST", "/v1/files", headers=headers, raw=raw)

    def openai_batch(self, docs: dict):
        lines = [{"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": chat_body(doc)}
                 for cid, doc in docs.items()]
        f = self.upload(lines)
        return self.ok_json("POST", "/v1/batches", {"input_file_id": f["id"], "endpoint": "/v1/chat/completions",
                                                    "completion_window": "24h", "metadata": {"run": "r1"}},
                            headers=OPENAI_AUTH)

    def poll_openai(self, batch_id, max_polls=20):
        seen = []
        for _ in range(max_polls):
            b = self.ok_json("GET", f"/v1/batches/{batch_id}", headers=OPENAI_AUTH)
            seen.append(b["status"])
            if b["status"] in ("completed", "failed", "expired", "cancelled"):
                return b, seen
        self.fail(f"batch did not end: {seen}")

    def jsonl(self, file_id):
        st, hdrs, payload = self.call("GET", f"/v1/files/{file_id}/content", headers=OPENAI_AUTH)
        self.assertEqual(st, 200)
        return [json.loads(x) for x in payload.decode().splitlines() if x.strip()]

    def anthropic_batch(self, docs: dict):
        reqs = [{"custom_id": cid, "params": messages_params(doc)} for cid, doc in docs.items()]
        return self.ok_json("POST", "/v1/messages/batches", {"requests": reqs}, headers=ANTHROPIC_AUTH)

    def poll_anthropic(self, batch_id, max_polls=20):
        for _ in range(max_polls):
            b = self.ok_json("GET", f"/v1/messages/batches/{batch_id}", headers=ANTHROPIC_AUTH)
            if b["processing_status"] == "ended":
                return b
            self.assertEqual(sum(b["request_counts"][k] for k in ("succeeded", "errored", "canceled", "expired")), 0)
        self.fail("message batch did not end")

    def results(self, batch):
        path = batch["results_url"].split(str(self.port), 1)[1]
        st, hdrs, payload = self.call("GET", path, headers=ANTHROPIC_AUTH)
        self.assertEqual(st, 200, payload[:300])
        return [json.loads(x) for x in payload.decode().splitlines() if x.strip()]

    def assert_grounded(self, obj, doc):
        self.assertEqual(emulator.schema_errors(obj), [])
        self.assertTrue(obj["entities"], "expected at least one entity")
        for fact in obj["entities"] + obj["relations"]:
            self.assertIn(fact["evidence"], doc)

    # -- OpenAI --------------------------------------------------------------------------------

    def test_openai_upload_batch_poll_output(self):
        b = self.openai_batch(DOCS)
        self.assertEqual(b["status"], "validating")
        self.assertEqual(b["request_counts"], {"total": 3, "completed": 0, "failed": 0})
        b, seen = self.poll_openai(b["id"])
        self.assertEqual(seen, ["in_progress", "completed"])
        self.assertEqual(b["request_counts"], {"total": 3, "completed": 3, "failed": 0})
        self.assertIsNone(b["error_file_id"])
        self.assertEqual(b["metadata"], {"run": "r1"})
        self.assertGreater(b["usage"]["input_tokens"], 0)
        f = self.ok_json("GET", f"/v1/files/{b['output_file_id']}", headers=OPENAI_AUTH)
        self.assertEqual(f["purpose"], "batch_output")
        rows = self.jsonl(b["output_file_id"])
        self.assertEqual(sorted(r["custom_id"] for r in rows), sorted(DOCS))
        for r in rows:
            self.assertEqual(r["response"]["status_code"], 200)
            self.assertIsNone(r["error"])
            body = r["response"]["body"]
            self.assertEqual(body["choices"][0]["finish_reason"], "stop")
            self.assertGreater(body["usage"]["prompt_tokens"], 0)
            self.assert_grounded(json.loads(body["choices"][0]["message"]["content"]), DOCS[r["custom_id"]])
        stats = self.ok_json("GET", "/_emulator/stats")
        self.assertEqual(stats["answered"], {cid: 1 for cid in DOCS})
        self.assertEqual(stats["batches_created"]["openai"], 1)
        self.assertEqual(stats["files_uploaded"], 1)
        # a later poll changes nothing and answers no row again
        again = self.ok_json("GET", f"/v1/batches/{b['id']}", headers=OPENAI_AUTH)
        self.assertEqual(again["output_file_id"], b["output_file_id"])
        self.assertEqual(self.ok_json("GET", "/_emulator/stats")["answered_max"], 1)
        listing = self.ok_json("GET", "/v1/batches?limit=1", headers=OPENAI_AUTH)
        self.assertEqual(listing["data"][0]["id"], b["id"])
        self.assertFalse(listing["has_more"])

    def test_deterministic_answers_are_stable(self):
        a = self.ok_json("POST", "/v1/chat/completions", chat_body(DOCS["doc-a"]), headers=OPENAI_AUTH)
        b = self.ok_json("POST", "/v1/chat/completions", chat_body(DOCS["doc-a"]), headers=OPENAI_AUTH)
        self.assertEqual(a["choices"][0]["message"]["content"], b["choices"][0]["message"]["content"])
        # The same counts; the second reads the repeated prefix from the prompt cache.
        self.assertEqual((a["usage"]["prompt_tokens"], a["usage"]["completion_tokens"]),
                         (b["usage"]["prompt_tokens"], b["usage"]["completion_tokens"]))
        self.assertEqual(a["usage"]["prompt_tokens_details"]["cached_tokens"], 0)
        self.assert_grounded(json.loads(a["choices"][0]["message"]["content"]), DOCS["doc-a"])

    def test_auth_required(self):
        st, _, payload = self.call("GET", "/v1/batches")
        self.assertEqual(st, 401)
        self.assertIn("error", json.loads(payload))
        st, _, payload = self.call("GET", "/v1/messages/batches", headers={"x-api-key": "k"})
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(payload)["type"], "error")

    def test_wrong_api_key_is_refused_in_the_providers_envelope(self):
        self.configure(api_keys=["sk-the-right-key"])
        st, _, payload = self.call("GET", "/v1/batches", headers={"Authorization": "Bearer sk-wrong-key-1234"})
        self.assertEqual(st, 401)
        err = json.loads(payload)["error"]
        self.assertEqual((err["type"], err["code"]), ("invalid_request_error", "invalid_api_key"))
        self.assertNotIn("sk-wrong-key-1234", err["message"])  # the key is shown masked
        st, _, payload = self.call("GET", "/v1/messages/batches",
                                   headers={"x-api-key": "wrong", "anthropic-version": "2023-06-01"})
        self.assertEqual(st, 401)
        self.assertEqual(json.loads(payload)["error"]["type"], "authentication_error")
        st, _, _ = self.call("GET", "/v1/batches", headers={"Authorization": "Bearer sk-the-right-key"})
        self.assertEqual(st, 200)
        self.configure(http_403={"count": 1, "paths": ["/v1/messages/batches"]})
        st, _, payload = self.call("GET", "/v1/messages/batches",
                                   headers={"x-api-key": "sk-the-right-key", "anthropic-version": "2023-06-01"})
        self.assertEqual(st, 403)
        self.assertEqual(json.loads(payload)["error"]["type"], "permission_error")

    def test_http_429_with_retry_after(self):
        self.configure(http_429={"count": 2, "retry_after": 1, "paths": ["/v1/batches"]})
        for _ in range(2):
            st, hdrs, payload = self.call("GET", "/v1/batches", headers=OPENAI_AUTH)
            self.assertEqual(st, 429)
            self.assertEqual(hdrs.get("retry-after"), "1")
            self.assertEqual(json.loads(payload)["error"]["code"], "rate_limit_exceeded")
        st, _, _ = self.call("GET", "/v1/files", headers=OPENAI_AUTH)  # other paths untouched
        self.assertEqual(st, 200)
        st, _, _ = self.call("GET", "/v1/batches", headers=OPENAI_AUTH)
        self.assertEqual(st, 200)
        self.assertEqual(self.ok_json("GET", "/_emulator/stats")["faults_injected"], {"429": 2})

    def test_http_500_on_anthropic_path(self):
        self.configure(http_500={"count": 1, "paths": ["/v1/messages/batches"]})
        st, _, payload = self.call("POST", "/v1/messages/batches",
                                   {"requests": [{"custom_id": "x", "params": messages_params("d")}]}, ANTHROPIC_AUTH)
        self.assertEqual(st, 500)
        self.assertEqual(json.loads(payload)["error"]["type"], "api_error")
        self.anthropic_batch({"x": DOCS["doc-a"]})

    def test_shuffled_output(self):
        docs = {f"row-{i:02d}": DOCS["doc-a"].replace("Nevada", f"Nevada {i}") for i in range(12)}
        self.configure(shuffle_output=True, seed=7)
        b, _ = self.poll_openai(self.openai_batch(docs)["id"])
        order = [r["custom_id"] for r in self.jsonl(b["output_file_id"])]
        self.assertEqual(sorted(order), sorted(docs))
        self.assertNotEqual(order, list(docs))

    def test_expired_and_error_rows(self):
        self.configure(expire_rows=["doc-b"], error_rows=[{"custom_id": "doc-c", "status_code": 500}])
        b, _ = self.poll_openai(self.openai_batch(DOCS)["id"])
        self.assertEqual(b["status"], "expired")
        self.assertEqual(b["request_counts"], {"total": 3, "completed": 1, "failed": 2})
        errs = {r["custom_id"]: r for r in self.jsonl(b["error_file_id"])}
        self.assertEqual(errs["doc-b"]["error"]["code"], "batch_expired")
        self.assertIsNone(errs["doc-b"]["response"])
        self.assertEqual(errs["doc-c"]["response"]["status_code"], 500)
        self.assertEqual([r["custom_id"] for r in self.jsonl(b["output_file_id"])], ["doc-a"])

    def test_fail_fraction_depends_on_attempt(self):
        docs = {f"r{i}": DOCS["doc-a"] for i in range(40)}
        self.configure(fail_fraction=0.5, seed=3)
        b1, _ = self.poll_openai(self.openai_batch(docs)["id"])
        failed1 = {r["custom_id"] for r in self.jsonl(b1["error_file_id"])}
        self.assertTrue(0 < len(failed1) < 40)
        # retry only the failed rows: a new attempt draws again, so some now succeed
        b2, _ = self.poll_openai(self.openai_batch({cid: docs[cid] for cid in failed1})["id"])
        self.assertLess(b2["request_counts"]["failed"], len(failed1))
        stats = self.ok_json("GET", "/_emulator/stats")
        self.assertEqual(stats["answered_max"], 1)

    def test_row_mutations(self):
        self.configure(truncated_rows=["doc-a"], refusal_rows=["doc-b"],
                       non_json_rows=[{"contains": "Quartz"}], duplicate_row=True, unknown_custom_id_row=True)
        b, _ = self.poll_openai(self.openai_batch(DOCS)["id"])
        rows = self.jsonl(b["output_file_id"])
        self.assertEqual(len(rows), 5)
        by = {}
        for r in rows:
            by.setdefault(r["custom_id"], []).append(r["response"]["body"]["choices"][0])
        unknown = [c for c in by if c not in DOCS]
        self.assertEqual(len(unknown), 1)
        self.assertEqual(len(by["doc-a"]) + len(by["doc-b"]) + len(by["doc-c"]), 4)
        self.assertEqual(by["doc-a"][0]["finish_reason"], "length")
        with self.assertRaises(ValueError):
            json.loads(by["doc-a"][0]["message"]["content"])
        self.assertIsNone(by["doc-b"][0]["message"]["content"])
        self.assertTrue(by["doc-b"][0]["message"]["refusal"])
        with self.assertRaises(ValueError):
            json.loads(by["doc-c"][0]["message"]["content"])
        self.configure(truncated_rows=[], refusal_rows=[], non_json_rows=[], invalid_schema_rows=["x"])
        s = self.ok_json("POST", "/v1/messages", messages_params(DOCS["doc-a"]), headers=ANTHROPIC_AUTH)
        self.assertEqual(s["stop_reason"], "tool_use")

    def test_invalid_input_line_fails_batch(self):
        f = self.upload([{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": chat_body("x")},
                         {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": chat_body("y")}])
        b = self.ok_json("POST", "/v1/batches", {"input_file_id": f["id"], "endpoint": "/v1/chat/completions",
                                                 "completion_window": "24h"}, headers=OPENAI_AUTH)
        b, _ = self.poll_openai(b["id"])
        self.assertEqual(b["status"], "failed")
        self.assertEqual(b["errors"]["data"][0]["line"], 2)
        st, _, payload = self.call("POST", "/v1/batches", {"input_file_id": f["id"], "endpoint": "/v1/chat/completions",
                                                           "completion_window": "1h"}, OPENAI_AUTH)
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(payload)["error"]["param"], "completion_window")

    def test_cancel_and_slow_phases(self):
        self.configure(validating_polls=1, finalizing_polls=2)
        b, seen = self.poll_openai(self.openai_batch(DOCS)["id"])
        self.assertEqual(seen, ["validating", "in_progress", "finalizing", "finalizing", "completed"])
        b = self.openai_batch(DOCS)
        c = self.ok_json("POST", f"/v1/batches/{b['id']}/cancel", headers=OPENAI_AUTH)
        self.assertEqual(c["status"], "cancelling")
        b, _ = self.poll_openai(b["id"])
        self.assertEqual(b["status"], "cancelled")
        self.assertEqual({r["error"]["code"] for r in self.jsonl(b["error_file_id"])}, {"batch_cancelled"})
        self.assertEqual(self.ok_json("GET", "/_emulator/stats")["answered_total"], 3)

    def test_malformed_requests_get_envelopes(self):
        st, _, payload = self.call("POST", "/v1/chat/completions", headers=dict(OPENAI_AUTH, **{"Content-Type": "application/json"}), raw=b"{nope")
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(payload)["error"]["type"], "invalid_request_error")
        st, _, payload = self.call("POST", "/v1/files", headers=dict(OPENAI_AUTH, **{"Content-Type": "multipart/form-data; boundary=xx"}), raw=b"garbage")
        self.assertEqual(st, 400)
        st, _, payload = self.call("GET", "/v1/batches/batch_nope", headers=OPENAI_AUTH)
        self.assertEqual(st, 404)
        st, _, payload = self.call("POST", "/v1/messages/batches", {"requests": [{"custom_id": "bad id!", "params": {}}]}, ANTHROPIC_AUTH)
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(payload)["error"]["type"], "invalid_request_error")
        st, _, _ = self.call("POST", "/_emulator/config", {"no_such_key": 1})
        self.assertEqual(st, 400)
        self.assertEqual(self.ok_json("GET", "/_emulator/health"), {"ok": True})

    # -- Anthropic -----------------------------------------------------------------------------

    def test_anthropic_batch_end_to_end(self):
        self.configure(error_rows=[{"custom_id": "doc-c", "error_type": "invalid_request_error"}])
        b = self.anthropic_batch(DOCS)
        self.assertEqual(b["processing_status"], "in_progress")
        self.assertIsNone(b["results_url"])
        self.assertEqual(b["request_counts"]["processing"], 3)
        self.assertRegex(b["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        st, _, _ = self.call("GET", f"/v1/messages/batches/{b['id']}/results", headers=ANTHROPIC_AUTH)
        self.assertEqual(st, 400)
        b = self.poll_anthropic(b["id"])
        self.assertEqual(b["request_counts"], {"processing": 0, "succeeded": 2, "errored": 1, "canceled": 0, "expired": 0})
        self.assertIsNotNone(b["ended_at"])
        rows = {r["custom_id"]: r["result"] for r in self.results(b)}
        self.assertEqual(rows["doc-c"]["type"], "errored")
        self.assertEqual(rows["doc-c"]["error"]["error"]["type"], "invalid_request_error")
        for cid in ("doc-a", "doc-b"):
            msg = rows[cid]["message"]
            self.assertEqual(msg["stop_reason"], "tool_use")
            block = msg["content"][0]
            self.assertEqual((block["type"], block["name"]), ("tool_use", "emit_extraction"))
            self.assertEqual(msg["usage"]["service_tier"], "batch")
            self.assert_grounded(block["input"], DOCS[cid])
        listing = self.ok_json("GET", "/v1/messages/batches?limit=5", headers=ANTHROPIC_AUTH)
        self.assertEqual(listing["data"][0]["id"], b["id"])
        self.assertEqual(self.ok_json("GET", "/_emulator/stats")["answered"], {"doc-a": 1, "doc-b": 1})

    def test_anthropic_expired_refusal_and_sync(self):
        self.configure(expire_rows=[{"contains": "Zephyr"}], refusal_rows=["doc-c"])
        b = self.poll_anthropic(self.anthropic_batch(DOCS)["id"])
        rows = {r["custom_id"]: r["result"] for r in self.results(b)}
        self.assertEqual(rows["doc-b"], {"type": "expired"})
        self.assertEqual(rows["doc-c"]["message"]["stop_reason"], "refusal")
        self.assertEqual(b["request_counts"]["expired"], 1)
        s = self.ok_json("POST", "/v1/messages", messages_params(DOCS["doc-a"], max_tokens=20), headers=ANTHROPIC_AUTH)
        self.assertEqual(s["stop_reason"], "max_tokens")
        self.assertEqual(s["usage"]["output_tokens"], 20)

    # -- the failure fgraph exists to catch ------------------------------------------------------

    def test_concatenating_mode_leaks_sibling_evidence(self):
        self.configure(mode="concatenating")
        b, _ = self.poll_openai(self.openai_batch(DOCS)["id"])
        rows = self.jsonl(b["output_file_id"])
        leaked = 0
        for r in rows:
            own = DOCS[r["custom_id"]]
            obj = json.loads(r["response"]["body"]["choices"][0]["message"]["content"])
            self.assertEqual(emulator.schema_errors(obj), [])
            for fact in obj["entities"] + obj["relations"]:
                self.assertNotIn(fact["evidence"], own)
                self.assertTrue(any(fact["evidence"] in d for cid, d in DOCS.items() if cid != r["custom_id"]))
                leaked += 1
        self.assertGreater(leaked, 0)
        self.configure(mode="concatenating")
        ab = self.poll_anthropic(self.anthropic_batch(DOCS)["id"])
        for r in self.results(ab):
            for fact in r["result"]["message"]["content"][0]["input"]["entities"]:
                self.assertNotIn(fact["evidence"], DOCS[r["custom_id"]])

    def test_document_contract(self):
        self.assertEqual(emulator.document_of([{"role": "user", "content": "a\n<document>\nX Y\n</document>\nb"}]), "X Y")
        self.assertEqual(emulator.document_of([{"role": "user", "content": "whole text"}]), "whole text")
        self.assertEqual(emulator.document_of([{"role": "user", "content": "<document>\nold\n</document>"},
                                               {"role": "assistant", "content": "ok"},
                                               {"role": "user", "content": [{"type": "text", "text": "<document>\nnew\n</document>"}]}]), "new")

    @unittest.skipUnless(os.environ.get("FGRAPH_LOCAL_URL"), "set FGRAPH_LOCAL_URL (tools/local-llm start) to test forward mode")
    def test_forward_mode_relays_local_model(self):
        self.configure(mode="forward", forward_url=os.environ["FGRAPH_LOCAL_URL"])
        body = chat_body("Acme Widgets Inc. is a subsidiary of Foo Holdings LLC.", max_tokens=24)
        a = self.ok_json("POST", "/v1/chat/completions", body, headers=OPENAI_AUTH)
        choice = a["choices"][0]
        self.assertIn(choice["finish_reason"], ("stop", "length"))
        self.assertTrue(choice["message"]["content"].lstrip().startswith("{"))  # constrained by the schema
        self.assertGreater(a["usage"]["prompt_tokens"], 0)

    def test_prompt_cache_reports_a_repeated_prefix(self):
        # OpenAI caches automatically: the second request with the same instructions and
        # schema reads them from the cache; prompt_tokens still counts them.
        first = self.ok_json("POST", "/v1/chat/completions", chat_body(DOCS["doc-a"]), headers=OPENAI_AUTH)
        second = self.ok_json("POST", "/v1/chat/completions", chat_body(DOCS["doc-b"]), headers=OPENAI_AUTH)
        self.assertEqual(first["usage"]["prompt_tokens_details"]["cached_tokens"], 0)
        cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
        self.assertGreater(cached, 0)
        self.assertLess(cached, second["usage"]["prompt_tokens"])
        # Anthropic caches only up to a block marked cache_control: a write, then reads;
        # input_tokens leaves both out.
        plain = self.ok_json("POST", "/v1/messages", messages_params(DOCS["doc-a"]), headers=ANTHROPIC_AUTH)
        self.assertEqual((plain["usage"]["cache_creation_input_tokens"], plain["usage"]["cache_read_input_tokens"]), (0, 0))
        marked = lambda doc: dict(messages_params(doc), system=[
            {"type": "text", "text": "You extract facts from one filing.", "cache_control": {"type": "ephemeral"}}])
        w = self.ok_json("POST", "/v1/messages", marked(DOCS["doc-a"]), headers=ANTHROPIC_AUTH)["usage"]
        r = self.ok_json("POST", "/v1/messages", marked(DOCS["doc-a"]), headers=ANTHROPIC_AUTH)["usage"]
        self.assertGreater(w["cache_creation_input_tokens"], 0)
        self.assertEqual(w["cache_read_input_tokens"], 0)
        self.assertEqual(r["cache_read_input_tokens"], w["cache_creation_input_tokens"])
        self.assertEqual(r["input_tokens"], w["input_tokens"])
        # The same prompt: the uncached request's input is split, not changed.
        self.assertEqual(r["input_tokens"] + r["cache_read_input_tokens"], plain["usage"]["input_tokens"])
        # Below the minimum: nothing cached.
        self.configure(prompt_cache_min_tokens=100000)
        r = self.ok_json("POST", "/v1/messages", marked(DOCS["doc-b"]), headers=ANTHROPIC_AUTH)["usage"]
        self.assertEqual((r["cache_creation_input_tokens"], r["cache_read_input_tokens"]), (0, 0))

    def test_large_upload_streams(self):
        big = DOCS["doc-a"] + "lorem ipsum dolor sit amet " * 26000  # ~0.7 MB per line, ~14 MB file
        lines = [{"custom_id": f"big-{i}", "method": "POST", "url": "/v1/chat/completions", "body": chat_body(big)} for i in range(20)]
        f = self.upload(lines)
        self.assertGreater(f["bytes"], 10_000_000)
        b = self.ok_json("POST", "/v1/batches", {"input_file_id": f["id"], "endpoint": "/v1/chat/completions",
                                                 "completion_window": "24h"}, headers=OPENAI_AUTH)
        b, _ = self.poll_openai(b["id"])
        self.assertEqual(b["request_counts"]["completed"], 20)


if __name__ == "__main__":
    unittest.main(verbosity=2)
