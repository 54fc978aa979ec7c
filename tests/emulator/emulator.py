#!/usr/bin/env python3
"""Provider emulator for fgraph tests: OpenAI Files/Batches/Chat and Anthropic Messages/Message Batches.

What it is: a local HTTP server (Python 3.11 stdlib only) that speaks the public protocols
documented in shared/reference/protocols.md sections A and B, answers each request with a
deterministic extractor (or forwards it to a local OpenAI-compatible model), and injects the
providers' failure modes on demand (see tests/emulator/README.md for every config key).

What it owns: uploaded and generated files (in a private temp dir, deleted on exit), batches,
fault counters and statistics. It stands in for the remote service; it is never part of fgraph.

Threading model: ThreadingHTTPServer, one thread per connection. All shared state sits in one
`Emulator` object guarded by `Emulator.lock`. Answering the rows of a batch runs in a worker
thread per batch, started lazily when polls say the batch is done running; slow work (forwarding
to a model, reading files) happens outside the lock.

Usage: emulator.py [--port 0] [--host 127.0.0.1] [--mode deterministic|forward|concatenating]
                   [--forward-url http://127.0.0.1:8081/v1] [--config JSON] [--data-dir DIR] [--verbose]
The first stdout line is `LISTENING <port>`.
"""

from __future__ import annotations

import argparse
import bisect
import fnmatch
import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# ----------------------------------------------------------------------------------------------
# Protocol constants (protocols.md A and B)

OPENAI_BATCH_ENDPOINTS = {
    "/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions",
    "/v1/moderations", "/v1/images/generations", "/v1/images/edits", "/v1/videos",
}
OPENAI_FILE_PURPOSES = {
    "assistants", "batch", "fine-tune", "vision", "user_data", "evals",
}
OPENAI_MAX_BATCH_LINES = 50_000
OPENAI_MAX_BATCH_FILE_BYTES = 200 * 1024 * 1024
OPENAI_MAX_FILE_BYTES = 512 * 1024 * 1024
ANTHROPIC_MAX_REQUESTS = 100_000
ANTHROPIC_MAX_BATCH_BYTES = 256 * 1024 * 1024
CUSTOM_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
DAY_S = 24 * 3600

ANTHROPIC_STATUS_TO_TYPE = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 409: "conflict_error",
    413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
    504: "timeout_error", 529: "overloaded_error",
}
ANTHROPIC_TYPE_TO_STATUS = {v: k for k, v in ANTHROPIC_STATUS_TO_TYPE.items()}
OPENAI_STATUS_TO_TYPE = {
    400: "invalid_request_error", 401: "invalid_request_error", 403: "invalid_request_error",
    404: "invalid_request_error", 409: "invalid_request_error", 429: "rate_limit_exceeded",
    500: "server_error", 502: "server_error", 503: "server_error",
}

# ----------------------------------------------------------------------------------------------
# Configuration

DEFAULT_CONFIG: dict = {
    "mode": "deterministic",          # deterministic | forward | concatenating
    "forward_url": None,              # OpenAI-compatible base URL for mode=forward, e.g. http://127.0.0.1:8081/v1
    "forward_model": None,            # model name sent when forwarding (default: the request's own)
    "forward_response_format": "json_object_schema",  # json_object_schema | json_schema | as_is
    "forward_timeout_s": 600,
    "polls_to_complete": 1,           # GETs spent in_progress before the batch is done
    "validating_polls": 0,            # GETs spent validating first (OpenAI)
    "finalizing_polls": 0,            # GETs spent finalizing after in_progress (OpenAI)
    "cancelling_polls": 0,            # GETs spent cancelling/canceling after a cancel
    "complete_after_seconds": None,   # if set: time drives progress instead of polls
    "seed": 0,                        # seed for every fraction/shuffle choice
    "expire_rows": [],                # selectors: rows that expire (batch ends expired)
    "expire_fraction": 0.0,
    "error_rows": [],                 # selectors: rows that fail (status_code / error_type)
    "fail_fraction": 0.0,             # fraction of rows that fail with 500 / api_error
    "truncated_rows": [],             # selectors: finish_reason length / stop_reason max_tokens
    "refusal_rows": [],               # selectors: refusal
    "non_json_rows": [],              # selectors: content that is not JSON
    "invalid_schema_rows": [],        # selectors: JSON that breaks extraction.v1
    "ungrounded_rows": [],            # selectors: every evidence quote paraphrased (not in the document)
    "answer_model": None,             # model name the answers report (a moving alias); null = the request's
    "shuffle_output": False,          # output/error/results lines in a seeded random order
    "unknown_custom_id_row": False,   # one extra succeeded row with a never-submitted custom_id
    "duplicate_row": False,           # the first succeeded row appears twice
    "max_entities": 12,
    "max_relations": 4,
    "api_keys": None,                 # list: only these keys are valid; any other gets 401
    "prompt_cache": True,             # report prompt-cache reads/writes of a repeated prefix
    "prompt_cache_min_tokens": 0,     # shortest prefix cached (real services: 1024 to 4096)
}
HTTP_FAULT_KEY_RE = re.compile(r"^http_(\d{3})$")
SELECTOR_KEYS = ("expire_rows", "error_rows", "truncated_rows", "refusal_rows",
                 "non_json_rows", "invalid_schema_rows", "ungrounded_rows")


class ConfigError(ValueError):
    pass


def _check_selectors(key: str, value) -> list:
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of selectors")
    for sel in value:
        if isinstance(sel, str):
            continue
        if not isinstance(sel, dict):
            raise ConfigError(f"{key}: a selector is a custom_id string or an object")
        unknown = set(sel) - {"custom_id", "contains", "fraction", "attempts", "index",
                              "min_index", "live", "status_code", "error_type", "message", "all"}
        if unknown:
            raise ConfigError(f"{key}: unknown selector fields {sorted(unknown)}")
        if "fraction" in sel and not isinstance(sel["fraction"], (int, float)):
            raise ConfigError(f"{key}: fraction must be a number")
        if "attempts" in sel and not (isinstance(sel["attempts"], list)
                                      and all(isinstance(a, int) for a in sel["attempts"])):
            raise ConfigError(f"{key}: attempts must be a list of integers")
    return value


def merge_config(base: dict, update: dict) -> dict:
    """Returns base updated with `update`, validated. Raises ConfigError."""
    if not isinstance(update, dict):
        raise ConfigError("config must be a JSON object")
    cfg = dict(base)
    for key, value in update.items():
        m = HTTP_FAULT_KEY_RE.match(key)
        if m:
            if value is None:
                cfg.pop(key, None)
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"{key}: expected an object like {{\"count\": 2, \"paths\": [...]}}")
            unknown = set(value) - {"count", "retry_after", "paths", "methods", "message"}
            if unknown:
                raise ConfigError(f"{key}: unknown fields {sorted(unknown)}")
            count = value.get("count", 1)
            if count is not None and (not isinstance(count, int) or count < 0):
                raise ConfigError(f"{key}.count must be a non-negative integer or null (unlimited)")
            paths = value.get("paths")
            if paths is not None and not (isinstance(paths, list) and all(isinstance(p, str) for p in paths)):
                raise ConfigError(f"{key}.paths must be a list of strings")
            cfg[key] = dict(value)
            continue
        if key not in DEFAULT_CONFIG:
            raise ConfigError(f"unknown config key {key!r}; known: {sorted(DEFAULT_CONFIG)} and http_NNN")
        if key in SELECTOR_KEYS:
            value = _check_selectors(key, value)
        elif key == "mode":
            if value not in ("deterministic", "forward", "concatenating"):
                raise ConfigError("mode must be deterministic, forward or concatenating")
        elif key == "forward_response_format":
            if value not in ("json_object_schema", "json_schema", "as_is"):
                raise ConfigError("forward_response_format must be json_object_schema, json_schema or as_is")
        elif key in ("polls_to_complete", "validating_polls", "finalizing_polls", "cancelling_polls",
                     "max_entities", "max_relations", "prompt_cache_min_tokens"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{key} must be a non-negative integer")
        elif key in ("expire_fraction", "fail_fraction"):
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ConfigError(f"{key} must be a number in [0, 1]")
        elif key in ("shuffle_output", "unknown_custom_id_row", "duplicate_row", "prompt_cache"):
            if not isinstance(value, bool):
                raise ConfigError(f"{key} must be true or false")
        elif key == "api_keys":
            if value is not None and not (isinstance(value, list) and value
                                          and all(isinstance(k, str) and k for k in value)):
                raise ConfigError(f"{key} must be null or a non-empty list of non-empty strings")
        elif key == "answer_model":
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(f"{key} must be null or a non-empty string")
        elif key == "complete_after_seconds":
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise ConfigError(f"{key} must be null or a non-negative number")
        cfg[key] = value
    if cfg.get("mode") == "forward" and not cfg.get("forward_url"):
        raise ConfigError("mode forward needs forward_url")
    return cfg


def unit_hash(*parts) -> float:
    """A stable number in [0, 1) from the parts."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


# ----------------------------------------------------------------------------------------------
# Errors

class ApiError(Exception):
    """An HTTP error answer, rendered in the envelope of the provider the path belongs to."""

    def __init__(self, status: int, message: str, *, err_type: str | None = None,
                 code: str | None = None, param: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.err_type = err_type
        self.code = code
        self.param = param
        self.headers = headers or {}


def openai_error_body(status: int, message: str, err_type: str | None = None,
                      code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message,
                      "type": err_type or OPENAI_STATUS_TO_TYPE.get(status, "server_error" if status >= 500 else "invalid_request_error"),
                      "param": param, "code": code}}


def anthropic_error_body(status: int, message: str, err_type: str | None = None,
                         request_id: str | None = None) -> dict:
    return {"type": "error",
            "error": {"type": err_type or ANTHROPIC_STATUS_TO_TYPE.get(status, "api_error" if status >= 500 else "invalid_request_error"),
                      "message": message},
            "request_id": request_id or new_request_id()}


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]


def rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ----------------------------------------------------------------------------------------------
# The prompt contract and the deterministic extractor: extraction.py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extraction import content_text, document_of, extract, schema_errors  # noqa: E402,F401



# ----------------------------------------------------------------------------------------------
# Requests and answers

@dataclass
class RequestView:
    """What the emulator needs from one model request (batch row or sync call)."""
    provider: str                  # "openai" | "anthropic"
    custom_id: str | None
    body: dict                     # chat completion body / Anthropic params
    document: str
    prompt_chars: int
    model: str
    max_tokens: int | None
    index: int = 0                 # position in its batch
    live: bool = False             # a sync call (chat completions / messages), not a batch row
    answer_model: str | None = None  # the model the answer reports (config answer_model)
    problem: str | None = None     # a request error (invalid params) to report for the row


def view_of(provider: str, custom_id, body, index: int = 0) -> RequestView:
    problem = None
    if not isinstance(body, dict):
        body, problem = {}, "body must be a JSON object"
    messages = body.get("messages")
    if problem is None and (not isinstance(messages, list) or not messages):
        problem = "messages: field required and must be a non-empty array"
    model = body.get("model")
    if problem is None and (not isinstance(model, str) or not model):
        problem = "model: field required"
    if provider == "openai":
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    else:
        max_tokens = body.get("max_tokens")
        if problem is None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
            problem = "max_tokens: field required (a positive integer)"
    if body.get("stream"):
        problem = problem or "stream: not supported here"
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        max_tokens = None
    chars = 0
    if isinstance(messages, list):
        for msg in messages:
            if isinstance(msg, dict):
                chars += len(content_text(msg.get("content")))
    chars += len(content_text(body.get("system")))
    # The schema is input too: the forced tool's definition, or the response format.
    for key in ("tools", "response_format"):
        if body.get(key) is not None:
            chars += len(json.dumps(body[key], separators=(",", ":")))
    return RequestView(provider=provider, custom_id=custom_id, body=body,
                       document=document_of(messages if isinstance(messages, list) else []),
                       prompt_chars=chars, model=model if isinstance(model, str) else "unknown",
                       max_tokens=max_tokens, index=index, problem=problem)


@dataclass
class Answer:
    """The model's answer before it is rendered in a provider's shape."""
    obj: dict | None = None        # parsed extraction (kind json)
    text: str | None = None        # raw content text (kind text, or relayed from forward)
    kind: str = "json"             # json | text | refusal
    truncated: bool = False
    prompt_tokens: int = 0         # every input token, cached ones included
    completion_tokens: int = 0
    cached_tokens: int = 0         # of prompt_tokens, read from the prompt cache
    cache_write_tokens: int = 0    # of prompt_tokens, written to it (Anthropic)


def cache_prefix(view: RequestView) -> str | None:
    """The cacheable prefix of a request, or None. OpenAI caches automatically: everything
    before the last message (and the response format). Anthropic caches only up to a block
    marked with cache_control: the tools, then the system blocks up to the marked one."""
    body = view.body
    if view.provider == "openai":
        messages = body.get("messages") if isinstance(body.get("messages"), list) else []
        head = "".join(content_text(m.get("content")) for m in messages[:-1] if isinstance(m, dict))
        if not head:
            return None
        return json.dumps(body.get("response_format"), separators=(",", ":")) + head
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    tools_text = json.dumps(tools, separators=(",", ":")) if tools else ""
    system = body.get("system")
    if isinstance(system, list):
        for i, block in enumerate(system):
            if isinstance(block, dict) and block.get("cache_control"):
                return tools_text + content_text(system[:i + 1])
    if any(isinstance(t, dict) and t.get("cache_control") for t in tools):
        return tools_text
    return None


def tokens_of(chars: int) -> int:
    return max(1, math.ceil(chars / 4))


REFUSAL_TEXT = "I'm sorry, but I can't help with that request."


class ForwardError(Exception):
    pass


def forward_chat(cfg: dict, view: RequestView) -> Answer:
    """Sends the request to the local OpenAI-compatible server and returns its answer."""
    url = cfg["forward_url"].rstrip("/") + "/chat/completions"
    body = view.body
    if view.provider == "anthropic":
        msgs = []
        system = content_text(body.get("system"))
        if system:
            msgs.append({"role": "system", "content": system})
        for m in body.get("messages", []):
            if isinstance(m, dict) and m.get("role") in ("user", "assistant"):
                msgs.append({"role": m["role"], "content": content_text(m.get("content"))})
        schema = None
        choice = body.get("tool_choice") or {}
        for tool in body.get("tools") or []:
            if isinstance(tool, dict) and (not choice.get("name") or tool.get("name") == choice.get("name")):
                schema = tool.get("input_schema")
                break
        fmt = ((body.get("output_config") or {}).get("format") or {})
        schema = schema or fmt.get("schema")
        out = {"model": body.get("model"), "messages": msgs, "max_tokens": body.get("max_tokens")}
        if "temperature" in body:
            out["temperature"] = body["temperature"]
        if schema:
            out["response_format"] = {"type": "json_schema", "json_schema": {"name": "extraction", "schema": schema, "strict": True}}
    else:
        out = dict(body)
        if "max_completion_tokens" in out:
            out["max_tokens"] = out.pop("max_completion_tokens")
    out.pop("stream", None)
    out.pop("metadata", None)
    out.pop("store", None)
    if cfg.get("forward_model"):
        out["model"] = cfg["forward_model"]
    rf = out.get("response_format")
    if isinstance(rf, dict) and cfg.get("forward_response_format") != "as_is":
        schema = None
        if rf.get("type") == "json_schema":
            schema = (rf.get("json_schema") or {}).get("schema") or rf.get("schema")
        elif rf.get("type") == "json_object":
            schema = rf.get("schema")
        if schema is not None:
            if cfg.get("forward_response_format") == "json_object_schema":
                out["response_format"] = {"type": "json_object", "schema": schema}
            else:
                out["response_format"] = {"type": "json_schema", "json_schema": {"name": "extraction", "schema": schema, "strict": True}}
    data = json.dumps(out).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json",
                                                          "Authorization": "Bearer emulator"})
    try:
        with urllib.request.urlopen(req, timeout=cfg.get("forward_timeout_s") or 600) as resp:
            answer = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise ForwardError(f"forward to {url} answered HTTP {exc.code}: {exc.read()[:300]!r}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ForwardError(f"forward to {url} failed: {exc}") from exc
    try:
        choice = answer["choices"][0]
        text = choice["message"].get("content") or ""
        finish = choice.get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ForwardError(f"forward to {url}: unexpected answer shape") from exc
    usage = answer.get("usage") or {}
    ans = Answer(text=text, kind="text", truncated=(finish == "length"),
                 prompt_tokens=int(usage.get("prompt_tokens") or tokens_of(view.prompt_chars)),
                 completion_tokens=int(usage.get("completion_tokens") or tokens_of(len(text))))
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict) and not ans.truncated:
            ans.obj, ans.kind = parsed, "json"
    except ValueError:
        pass
    return ans


def make_answer(cfg: dict, view: RequestView, sibling_document: str | None) -> Answer:
    """The model's answer for `view` under cfg["mode"] (before per-row mutations)."""
    if cfg["mode"] == "forward":
        return forward_chat(cfg, view)
    doc = view.document
    if cfg["mode"] == "concatenating" and sibling_document is not None:
        doc = sibling_document
    obj = extract(doc, cfg.get("max_entities", 12), cfg.get("max_relations", 4))
    return Answer(obj=obj, kind="json", prompt_tokens=tokens_of(view.prompt_chars) + 4,
                  completion_tokens=tokens_of(len(json.dumps(obj))))


def mutate(answer: Answer, mutation: str | None, max_tokens: int | None) -> Answer:
    """Applies a fault mutation, then the request's own max_tokens limit."""
    if mutation == "refusal":
        answer = Answer(kind="refusal", text=REFUSAL_TEXT, prompt_tokens=answer.prompt_tokens,
                        completion_tokens=tokens_of(len(REFUSAL_TEXT)))
    elif mutation == "non_json":
        text = "Here are the entities I found in the filing: the registrant and its subsidiaries."
        answer = Answer(kind="text", text=text, prompt_tokens=answer.prompt_tokens,
                        completion_tokens=tokens_of(len(text)))
    elif mutation == "invalid_schema":
        obj = json.loads(json.dumps(answer.obj)) if answer.obj else {"entities": [], "relations": []}
        if obj.get("entities"):
            obj["entities"][0].pop("evidence", None)
            obj["entities"][0]["confidence"] = 0.9
        else:
            obj["entities"] = [{"id": "e1", "name": "Unknown", "type": "ALIEN"}]
        answer = Answer(obj=obj, kind="json", prompt_tokens=answer.prompt_tokens,
                        completion_tokens=answer.completion_tokens)
    elif mutation == "ungrounded":
        obj = json.loads(json.dumps(answer.obj)) if answer.obj else {"entities": [], "relations": []}
        for fact in obj.get("entities", []) + obj.get("relations", []):
            if isinstance(fact, dict) and isinstance(fact.get("evidence"), str):
                fact["evidence"] = "As the model recalls it, " + fact["evidence"]
        answer = Answer(obj=obj, kind="json", prompt_tokens=answer.prompt_tokens,
                        completion_tokens=answer.completion_tokens)
    elif mutation == "truncated":
        answer.truncated = True
        answer.completion_tokens = max(1, answer.completion_tokens // 2)
    if (not answer.truncated and max_tokens is not None and answer.completion_tokens > max_tokens
            and answer.kind != "refusal"):
        answer.truncated = True
        answer.completion_tokens = max_tokens
    return answer


def content_string(answer: Answer) -> str:
    """The content text as the model wrote it (truncated when it was cut off)."""
    if answer.kind == "json" and answer.text is None:
        full = json.dumps(answer.obj, ensure_ascii=False)
    else:
        full = answer.text or ""
    if answer.truncated and answer.kind == "json" and answer.text is None:
        return full[:max(1, min(len(full) - 1, answer.completion_tokens * 4))]
    return full


def render_openai(view: RequestView, answer: Answer, created: int) -> dict:
    content = None if answer.kind == "refusal" else content_string(answer)
    finish = "length" if answer.truncated else "stop"
    pt, ct = answer.prompt_tokens, answer.completion_tokens
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24],
        "object": "chat.completion",
        "created": created,
        "model": view.answer_model or view.model,
        "choices": [{"index": 0,
                     "message": {"role": "assistant", "content": content,
                                 "refusal": REFUSAL_TEXT if answer.kind == "refusal" else None,
                                 "annotations": []},
                     "logprobs": None, "finish_reason": finish}],
        "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct,
                  "prompt_tokens_details": {"cached_tokens": answer.cached_tokens, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0,
                                                "rejected_prediction_tokens": 0}},
        "service_tier": "default",
        "system_fingerprint": "fp_emulator",
    }


def render_anthropic(view: RequestView, answer: Answer, batch: bool) -> dict:
    body = view.body
    tool_name = None
    choice = body.get("tool_choice")
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    if isinstance(choice, dict) and choice.get("type") == "tool" and choice.get("name"):
        tool_name = choice["name"]
    elif isinstance(choice, dict) and choice.get("type") == "any" and tools:
        tool_name = tools[0].get("name") if isinstance(tools[0], dict) else None
    if answer.kind == "refusal":
        content, stop = [{"type": "text", "text": REFUSAL_TEXT}], "refusal"
    elif answer.kind == "json" and tool_name:
        obj = answer.obj
        if answer.truncated:
            # cut off mid-call: a partial input object (relations missing, entities halved)
            ents = obj.get("entities", []) if isinstance(obj, dict) else []
            obj = {"entities": ents[:len(ents) // 2]}
        content = [{"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:24], "name": tool_name, "input": obj}]
        stop = "max_tokens" if answer.truncated else "tool_use"
    else:
        content = [{"type": "text", "text": content_string(answer)}]
        stop = "max_tokens" if answer.truncated else "end_turn"
    return {
        "id": "msg_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "model": view.answer_model or view.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        # input_tokens leaves out what was read from or written to the cache
        "usage": {"input_tokens": answer.prompt_tokens - answer.cached_tokens - answer.cache_write_tokens,
                  "output_tokens": answer.completion_tokens,
                  "cache_creation_input_tokens": answer.cache_write_tokens,
                  "cache_read_input_tokens": answer.cached_tokens,
                  "service_tier": "batch" if batch else "standard"},
    }


# ----------------------------------------------------------------------------------------------
# Row selection

def selector_matches(sel, view: RequestView, attempt: int, seed, key: str) -> dict | None:
    """Returns the selector (as a dict) if it selects the row, else None."""
    if isinstance(sel, str):
        return {"custom_id": sel} if view.custom_id == sel else None
    if "attempts" in sel and attempt not in sel["attempts"]:
        return None
    matched = False
    if sel.get("all"):
        matched = True
    if "custom_id" in sel:
        if view.custom_id != sel["custom_id"]:
            return None
        matched = True
    if "contains" in sel:
        if str(sel["contains"]) not in view.document:
            return None
        matched = True
    if "index" in sel:
        if view.index != sel["index"]:
            return None
        matched = True
    if "min_index" in sel:
        if view.live or view.index < sel["min_index"]:
            return None
        matched = True
    if "live" in sel:
        if view.live != bool(sel["live"]):
            return None
        matched = True
    if "fraction" in sel:
        ident = view.custom_id if view.custom_id is not None else hashlib.sha256(view.document.encode()).hexdigest()
        if unit_hash(seed, key, ident, attempt) >= float(sel["fraction"]):
            return None
        matched = True
    if not matched and "attempts" in sel:
        matched = True
    return sel if matched else None


def select(cfg: dict, key: str, view: RequestView, attempt: int) -> dict | None:
    for sel in cfg.get(key) or []:
        hit = selector_matches(sel, view, attempt, cfg.get("seed", 0), key)
        if hit is not None:
            return hit
    return None


def fraction_hit(cfg: dict, key: str, view: RequestView, attempt: int) -> bool:
    frac = float(cfg.get(key) or 0)
    if frac <= 0:
        return False
    ident = view.custom_id if view.custom_id is not None else hashlib.sha256(view.document.encode()).hexdigest()
    return unit_hash(cfg.get("seed", 0), key, ident, attempt) < frac


def row_error_of(cfg: dict, view: RequestView, attempt: int) -> tuple[int, str, str] | None:
    """(status_code, anthropic error type, message) if the row must fail, else None."""
    if view.problem:
        return 400, "invalid_request_error", view.problem
    sel = select(cfg, "error_rows", view, attempt)
    if sel is None and fraction_hit(cfg, "fail_fraction", view, attempt):
        sel = {}
    if sel is None:
        return None
    status = sel.get("status_code")
    etype = sel.get("error_type")
    if status is None:
        status = ANTHROPIC_TYPE_TO_STATUS.get(etype, 500)
    if etype is None:
        etype = ANTHROPIC_STATUS_TO_TYPE.get(int(status), "api_error")
    return int(status), etype, sel.get("message") or f"emulated row error ({status} {etype})"


def mutation_of(cfg: dict, view: RequestView, attempt: int) -> str | None:
    for key, name in (("refusal_rows", "refusal"), ("non_json_rows", "non_json"),
                      ("invalid_schema_rows", "invalid_schema"), ("ungrounded_rows", "ungrounded"),
                      ("truncated_rows", "truncated")):
        if select(cfg, key, view, attempt) is not None:
            return name
    return None


# ----------------------------------------------------------------------------------------------
# State

@dataclass
class FileRec:
    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int
    path: str
    expires_at: int | None = None


@dataclass
class Batch:
    """One OpenAI batch or Anthropic message batch."""
    provider: str
    id: str
    seq: int
    created_at: float
    cfg: dict
    requests_path: str             # JSONL: OpenAI input lines / {"custom_id","params"} lines
    custom_ids: list
    endpoint: str = "/v1/chat/completions"
    input_file_id: str | None = None
    completion_window: str = "24h"
    metadata: dict | None = None
    model: str | None = None
    validation_errors: list = field(default_factory=list)
    polls: int = 0
    status: str = "validating"     # OpenAI status names, also used internally for Anthropic
    times: dict = field(default_factory=dict)
    cancel_requested: bool = False
    cancel_polls: int = 0
    worker: threading.Thread | None = None
    worker_done: bool = False
    outcome: dict | None = None    # set by the worker
    output_file_id: str | None = None
    error_file_id: str | None = None
    results_path: str | None = None
    request_counts: dict = field(default_factory=dict)
    anthropic_counts: dict = field(default_factory=dict)
    usage: dict | None = None

    @property
    def terminal(self) -> bool:
        return self.status in ("completed", "failed", "expired", "cancelled")


class Emulator:
    def __init__(self, base_cfg: dict, data_dir: str, verbose: bool = False):
        self.lock = threading.RLock()
        self.base_cfg = base_cfg
        self.data_dir = data_dir
        self.verbose = verbose
        self._reset_locked()

    def _reset_locked(self):
        self.cfg = dict(self.base_cfg)
        self.fault_left = {k: v.get("count", 1) for k, v in self.cfg.items() if HTTP_FAULT_KEY_RE.match(k)}
        self.files: dict[str, FileRec] = {}
        self.batches: dict[str, Batch] = {}
        self.seq = 0
        self.attempts: dict[str, int] = {}
        self.recent_docs: list[str] = []
        self.prompt_cache: set[str] = set()
        self.stats = {"requests": {}, "responses": {}, "answered": {}, "answered_sync": {},
                      "batches_created": {"openai": 0, "anthropic": 0}, "files_uploaded": 0,
                      "faults_injected": {}, "rows": {}, "prompt_cache": {"read": 0, "write": 0}}

    def apply_prompt_cache(self, cfg: dict, view: RequestView, answer: Answer) -> Answer:
        """Marks the request's cacheable prefix as read from the cache when this provider and
        model saw it before, else as written (Anthropic bills the write; OpenAI does not)."""
        prefix = cache_prefix(view) if cfg.get("prompt_cache", True) else None
        if prefix is None:
            return answer
        tokens = min(tokens_of(len(prefix)), answer.prompt_tokens)
        if tokens < cfg.get("prompt_cache_min_tokens", 0):
            return answer
        key = view.provider + "|" + view.model + "|" + hashlib.sha256(prefix.encode()).hexdigest()
        with self.lock:
            seen = key in self.prompt_cache
            self.prompt_cache.add(key)
            self.stats["prompt_cache"]["read" if seen else "write"] += 1
        if seen:
            answer.cached_tokens = tokens
        elif view.provider == "anthropic":
            answer.cache_write_tokens = tokens
        return answer

    def reset(self):
        with self.lock:
            for b in self.batches.values():
                b.cancel_requested = True
            old = [f.path for f in self.files.values()] + [b.requests_path for b in self.batches.values()] \
                + [b.results_path for b in self.batches.values() if b.results_path]
            self._reset_locked()
        for p in old:
            try:
                os.unlink(p)
            except OSError:
                pass

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    def bump(self, table: str, key: str, n: int = 1):
        with self.lock:
            t = self.stats[table]
            t[key] = t.get(key, 0) + n

    def next_attempt(self, key: str) -> int:
        with self.lock:
            n = self.attempts.get(key, 0)
            self.attempts[key] = n + 1
            return n

    def note_document(self, doc: str):
        with self.lock:
            if doc and (not self.recent_docs or self.recent_docs[-1] != doc):
                self.recent_docs.append(doc)
                del self.recent_docs[:-8]

    def other_document(self, doc: str) -> str | None:
        with self.lock:
            for d in reversed(self.recent_docs):
                if d != doc:
                    return d
        return None

    def new_path(self, prefix: str) -> str:
        fd, path = tempfile.mkstemp(prefix=prefix, dir=self.data_dir)
        os.close(fd)
        return path

    def add_file(self, filename: str, purpose: str, path: str, size: int) -> FileRec:
        rec = FileRec(id="file-" + uuid.uuid4().hex[:24], filename=filename, purpose=purpose,
                      bytes=size, created_at=int(time.time()), path=path)
        if purpose in ("batch", "batch_output"):
            rec.expires_at = rec.created_at + 30 * DAY_S
        with self.lock:
            self.files[rec.id] = rec
        return rec

    def write_generated_file(self, filename: str, lines: list[str]) -> FileRec:
        path = self.new_path("gen-")
        size = 0
        with open(path, "wb") as f:
            for line in lines:
                data = (line + "\n").encode()
                f.write(data)
                size += len(data)
        return self.add_file(filename, "batch_output", path, size)

    # -- fault injection ---------------------------------------------------------------------

    def take_http_fault(self, method: str, path: str):
        """Returns (status, config) of an HTTP fault to answer this request with, or None."""
        with self.lock:
            for key in sorted(k for k in self.cfg if HTTP_FAULT_KEY_RE.match(k)):
                spec = self.cfg[key]
                left = self.fault_left.get(key)
                if left is not None and left <= 0:
                    continue
                methods = spec.get("methods")
                if methods and method.upper() not in [m.upper() for m in methods]:
                    continue
                paths = spec.get("paths")
                if paths and not any(path_matches(p, path) for p in paths):
                    continue
                if left is not None:
                    self.fault_left[key] = left - 1
                status = int(HTTP_FAULT_KEY_RE.match(key).group(1))
                self.stats["faults_injected"][str(status)] = self.stats["faults_injected"].get(str(status), 0) + 1
                return status, spec
        return None


def path_matches(pattern: str, path: str) -> bool:
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(path, pattern)
    return path == pattern or path.startswith(pattern.rstrip("/") + "/")


# ----------------------------------------------------------------------------------------------
# Batch progress and processing

def read_requests(batch: Batch):
    """Yields RequestViews of the batch's rows, in submission order."""
    with open(batch.requests_path, "rb") as f:
        index = 0
        for raw in f:
            if not raw.strip():
                continue
            line = json.loads(raw)
            if batch.provider == "openai":
                yield view_of("openai", line.get("custom_id"), line.get("body"), index)
            else:
                yield view_of("anthropic", line.get("custom_id"), line.get("params"), index)
            index += 1


def process_batch(emu: Emulator, batch: Batch):
    """Worker: answers every row of the batch and writes its result files."""
    try:
        cfg = batch.cfg
        views = list(read_requests(batch))
        n = len(views)
        for v in views:
            emu.note_document(v.document)
            v.answer_model = cfg.get("answer_model")
        ok_rows, err_rows, results = [], [], []
        counts = {"succeeded": 0, "errored": 0, "expired": 0, "canceled": 0}
        usage = {"input_tokens": 0, "cached_tokens": 0, "output_tokens": 0}
        any_expired = False
        now = int(time.time())
        for i, v in enumerate(views):
            attempt = emu.next_attempt(v.custom_id)
            line_id = "batch_req_" + uuid.uuid4().hex[:24]
            if select(cfg, "expire_rows", v, attempt) is not None or fraction_hit(cfg, "expire_fraction", v, attempt):
                any_expired = True
                emu.bump("rows", "expired")
                counts["expired"] += 1
                err_rows.append({"id": line_id, "custom_id": v.custom_id, "response": None,
                                 "error": {"code": "batch_expired",
                                           "message": "This request could not be executed before the completion window expired."}})
                results.append({"custom_id": v.custom_id, "result": {"type": "expired"}})
                continue
            failure = row_error_of(cfg, v, attempt)
            if batch.provider == "openai" and failure is None and batch.endpoint != "/v1/chat/completions":
                failure = (400, "invalid_request_error", f"the emulator answers only /v1/chat/completions, not {batch.endpoint}")
            if failure is None:
                sibling = None
                if cfg["mode"] == "concatenating":
                    sibling = views[(i + 1) % n].document if n > 1 else emu.other_document(v.document)
                try:
                    ans = mutate(make_answer(cfg, v, sibling), mutation_of(cfg, v, attempt), v.max_tokens)
                    ans = emu.apply_prompt_cache(cfg, v, ans)
                except ForwardError as exc:
                    failure = (500, "api_error", str(exc))
            if failure is not None:
                status, etype, message = failure
                emu.bump("rows", "errored")
                counts["errored"] += 1
                err_rows.append({"id": line_id, "custom_id": v.custom_id,
                                 "response": {"status_code": status, "request_id": new_request_id(),
                                              "body": openai_error_body(status, message)},
                                 "error": None})
                results.append({"custom_id": v.custom_id,
                                "result": {"type": "errored", "error": anthropic_error_body(status, message, etype)}})
                continue
            emu.bump("answered", v.custom_id)
            emu.bump("rows", "succeeded")
            counts["succeeded"] += 1
            usage["input_tokens"] += ans.prompt_tokens
            usage["cached_tokens"] += ans.cached_tokens
            usage["output_tokens"] += ans.completion_tokens
            if batch.provider == "openai":
                ok_rows.append({"id": line_id, "custom_id": v.custom_id,
                                "response": {"status_code": 200, "request_id": new_request_id(),
                                             "body": render_openai(v, ans, now)},
                                "error": None})
            else:
                results.append({"custom_id": v.custom_id,
                                "result": {"type": "succeeded", "message": render_anthropic(v, ans, batch=True)}})
        # provider misbehaviour on the way out
        rows = ok_rows if batch.provider == "openai" else results
        good = [r for r in rows if batch.provider == "openai" or r["result"]["type"] == "succeeded"]
        if cfg.get("duplicate_row") and good:
            rows.append(json.loads(json.dumps(good[0])))
        if cfg.get("unknown_custom_id_row") and good:
            extra = json.loads(json.dumps(good[0]))
            extra["custom_id"] = "emulator-unknown-" + uuid.uuid4().hex[:12]
            rows.append(extra)
        if cfg.get("shuffle_output"):
            rng = random.Random(f"{cfg.get('seed', 0)}:{batch.id}")
            rng.shuffle(ok_rows)
            rng.shuffle(err_rows)
            rng.shuffle(results)
        outcome = {"counts": counts, "usage": usage, "any_expired": any_expired}
        if batch.provider == "openai":
            if ok_rows:
                outcome["output_file_id"] = emu.write_generated_file(
                    f"batch_{batch.id}_output.jsonl", [json.dumps(r, ensure_ascii=False) for r in ok_rows]).id
            if err_rows:
                outcome["error_file_id"] = emu.write_generated_file(
                    f"batch_{batch.id}_error.jsonl", [json.dumps(r, ensure_ascii=False) for r in err_rows]).id
        else:
            path = emu.new_path("results-")
            with open(path, "w", encoding="utf-8") as f:
                for r in results:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
            outcome["results_path"] = path
        with emu.lock:
            batch.outcome = outcome
            batch.worker_done = True
    except Exception:  # one catch-all per worker thread: the batch fails instead of hanging
        traceback.print_exc(file=sys.stderr)
        with emu.lock:
            batch.outcome = {"internal_error": True}
            batch.worker_done = True


def advance(emu: Emulator, batch: Batch, count_poll: bool) -> threading.Thread | None:
    """Moves the batch along its lifecycle (caller holds the lock). Returns the worker thread
    to wait for if the batch is ready to end but its rows are still being answered."""
    if batch.terminal:
        return None
    now = time.time()
    cfg = batch.cfg
    if count_poll:
        batch.polls += 1
    if batch.cancel_requested:
        if count_poll:
            batch.cancel_polls += 1
        if batch.cancel_polls > cfg.get("cancelling_polls", 0):
            finish_cancelled(emu, batch, now)
        return None
    v_polls, p_polls, f_polls = cfg["validating_polls"], cfg["polls_to_complete"], cfg["finalizing_polls"]
    if cfg.get("complete_after_seconds") is not None:
        ticks = (v_polls + p_polls + f_polls + 1) if now - batch.created_at >= cfg["complete_after_seconds"] \
            else min(batch.polls, v_polls + p_polls)
    else:
        ticks = batch.polls
    if ticks <= v_polls:
        return None
    if batch.validation_errors:
        batch.status = "failed"
        batch.times.setdefault("failed_at", now)
        batch.request_counts = {"total": 0, "completed": 0, "failed": 0}
        return None
    batch.times.setdefault("in_progress_at", now)
    if ticks <= v_polls + p_polls:
        batch.status = "in_progress"
        return None
    if batch.worker is None:
        batch.worker = threading.Thread(target=process_batch, args=(emu, batch), daemon=True)
        batch.worker.start()
    batch.status = "finalizing"
    batch.times.setdefault("finalizing_at", now)
    if ticks <= v_polls + p_polls + f_polls:
        return None
    if not batch.worker_done:
        return batch.worker
    out = batch.outcome or {}
    if out.get("internal_error"):
        batch.status = "failed"
        batch.times["failed_at"] = now
        batch.validation_errors = [{"code": "server_error", "message": "emulator internal error", "param": None, "line": None}]
        return None
    counts = out["counts"]
    batch.output_file_id = out.get("output_file_id")
    batch.error_file_id = out.get("error_file_id")
    batch.results_path = out.get("results_path")
    batch.usage = out["usage"]
    batch.request_counts = {"total": len(batch.custom_ids), "completed": counts["succeeded"],
                            "failed": counts["errored"] + counts["expired"]}
    batch.anthropic_counts = counts
    if out.get("any_expired"):
        batch.status = "expired"
        batch.times["expired_at"] = now
    else:
        batch.status = "completed"
        batch.times["completed_at"] = now
    return None


def finish_cancelled(emu: Emulator, batch: Batch, now: float):
    """Ends a cancelled batch: no row was answered; every row reports batch_cancelled / canceled."""
    batch.status = "cancelled"
    batch.times["cancelled_at"] = now
    n = len(batch.custom_ids)
    batch.request_counts = {"total": n, "completed": 0, "failed": n}
    batch.anthropic_counts = {"succeeded": 0, "errored": 0, "expired": 0, "canceled": n}
    if batch.provider == "openai":
        lines = [json.dumps({"id": "batch_req_" + uuid.uuid4().hex[:24], "custom_id": cid, "response": None,
                             "error": {"code": "batch_cancelled", "message": "This request was cancelled before it was executed."}})
                 for cid in batch.custom_ids]
        if lines:
            batch.error_file_id = emu.write_generated_file(f"batch_{batch.id}_error.jsonl", lines).id
    else:
        path = emu.new_path("results-")
        with open(path, "w", encoding="utf-8") as f:
            for cid in batch.custom_ids:
                f.write(json.dumps({"custom_id": cid, "result": {"type": "canceled"}}) + "\n")
        batch.results_path = path


def poll(emu: Emulator, batch: Batch, count_poll: bool = True):
    with emu.lock:
        worker = advance(emu, batch, count_poll)
    if worker is not None:
        worker.join(timeout=5.0)
        with emu.lock:
            advance(emu, batch, count_poll=False)


def openai_batch_json(b: Batch) -> dict:
    t = b.times
    ints = lambda k: int(t[k]) if k in t else None  # noqa: E731
    return {
        "id": b.id, "object": "batch", "endpoint": b.endpoint,
        "errors": {"object": "list", "data": b.validation_errors} if b.status == "failed" else None,
        "input_file_id": b.input_file_id, "completion_window": b.completion_window,
        "status": b.status, "output_file_id": b.output_file_id, "error_file_id": b.error_file_id,
        "created_at": int(b.created_at), "in_progress_at": ints("in_progress_at"),
        "expires_at": int(b.created_at) + DAY_S, "finalizing_at": ints("finalizing_at"),
        "completed_at": ints("completed_at"), "failed_at": ints("failed_at"),
        "expired_at": ints("expired_at"), "cancelling_at": ints("cancelling_at"),
        "cancelled_at": ints("cancelled_at"),
        "request_counts": b.request_counts or {"total": len(b.custom_ids), "completed": 0, "failed": 0},
        "metadata": b.metadata, "model": b.model,
        "usage": None if b.usage is None else {
            "input_tokens": b.usage["input_tokens"], "input_tokens_details": {"cached_tokens": b.usage["cached_tokens"]},
            "output_tokens": b.usage["output_tokens"], "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": b.usage["input_tokens"] + b.usage["output_tokens"]},
    }


def anthropic_batch_json(b: Batch, base_url: str) -> dict:
    ended = b.terminal
    if ended:
        processing_status = "ended"
    elif b.cancel_requested:
        processing_status = "canceling"
    else:
        processing_status = "in_progress"
    counts = {"processing": 0 if ended else len(b.custom_ids), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    if ended:
        ac = b.anthropic_counts
        for k in ("succeeded", "errored", "canceled", "expired"):
            counts[k] = ac.get(k, 0)
        if b.status == "failed":  # internal error: report every row errored
            counts["errored"] = len(b.custom_ids)
    end_ts = None
    for k in ("completed_at", "expired_at", "cancelled_at", "failed_at"):
        if k in b.times:
            end_ts = b.times[k]
    return {
        "id": b.id, "type": "message_batch", "processing_status": processing_status,
        "request_counts": counts, "ended_at": rfc3339(end_ts), "created_at": rfc3339(b.created_at),
        "expires_at": rfc3339(b.created_at + DAY_S), "archived_at": None,
        "cancel_initiated_at": rfc3339(b.times.get("cancelling_at")),
        "results_url": f"{base_url}/v1/messages/batches/{b.id}/results" if ended else None,
    }


# ----------------------------------------------------------------------------------------------
# HTTP plumbing

class BodyReader:
    """Reads a request body with Content-Length or chunked transfer encoding, in pieces."""

    def __init__(self, rfile, headers):
        self.rfile = rfile
        self.chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
        self.remaining = 0
        self.chunk_left = 0
        self.eof = False
        self.total = 0
        if not self.chunked:
            raw = headers.get("Content-Length")
            try:
                self.remaining = int(raw) if raw else 0
            except ValueError:
                self.remaining, self.eof = 0, True
                raise ApiError(400, "invalid Content-Length header")
            if self.remaining <= 0:
                self.eof = True

    def read(self, n: int = 1 << 16) -> bytes:
        if self.eof:
            return b""
        if not self.chunked:
            data = self.rfile.read(min(n, self.remaining))
            if not data:
                self.eof = True
                raise ApiError(400, "request body ended early")
            self.remaining -= len(data)
            self.eof = self.remaining <= 0
            self.total += len(data)
            return data
        if self.chunk_left == 0:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.eof = True
                raise ApiError(400, "malformed chunked body")
            if size == 0:
                while True:  # trailers
                    t = self.rfile.readline(8192)
                    if t in (b"\r\n", b"\n", b""):
                        break
                self.eof = True
                return b""
            self.chunk_left = size
        data = self.rfile.read(min(n, self.chunk_left))
        if not data:
            self.eof = True
            raise ApiError(400, "request body ended early")
        self.chunk_left -= len(data)
        if self.chunk_left == 0:
            self.rfile.readline(8)
        self.total += len(data)
        return data

    def read_all(self, limit: int) -> bytes:
        parts, size = [], 0
        while True:
            data = self.read()
            if not data:
                break
            size += len(data)
            if size > limit:
                raise ApiError(413, f"request body larger than {limit} bytes", err_type="request_too_large")
            parts.append(data)
        return b"".join(parts)

    def drain(self):
        try:
            while self.read():
                pass
        except ApiError:
            pass


def parse_multipart(reader: BodyReader, boundary: bytes, open_sink, field_limit: int = 1 << 16):
    """Streams a multipart/form-data body. File parts go to open_sink(name, filename) -> (file, limit);
    returns ({field: str}, {name: (filename, size)})."""
    delim = b"\r\n--" + boundary
    buf = b"\r\n"
    fields, files = {}, {}
    cur = None  # dict(kind, name, filename, sink, size, limit, data)

    def more():
        nonlocal buf
        chunk = reader.read()
        if not chunk:
            raise ApiError(400, "malformed multipart body (unexpected end)")
        buf += chunk

    def emit(data: bytes):
        if cur is None or not data:
            return
        cur["size"] += len(data)
        if cur["sink"] is not None:
            if cur["size"] > cur["limit"]:
                raise ApiError(400, f"file is larger than {cur['limit']} bytes", param="file")
            cur["sink"].write(data)
        else:
            if cur["size"] > field_limit:
                raise ApiError(400, f"form field {cur['name']!r} is too long")
            cur["data"].append(data)

    def close_part():
        if cur is None:
            return
        if cur["sink"] is not None:
            cur["sink"].close()
            files[cur["name"]] = (cur["filename"], cur["size"])
        else:
            fields[cur["name"]] = b"".join(cur["data"]).decode("utf-8", "replace")

    while True:
        idx = buf.find(delim)
        while idx < 0:
            if len(buf) > len(delim):
                emit(buf[:-len(delim)])
                buf = buf[-len(delim):]
            more()
            idx = buf.find(delim)
        emit(buf[:idx])
        buf = buf[idx + len(delim):]
        close_part()
        cur = None
        while len(buf) < 2:
            more()
        if buf[:2] == b"--":
            reader.drain()
            return fields, files
        while b"\r\n" not in buf:
            if len(buf) > 1024:
                raise ApiError(400, "malformed multipart body (boundary line)")
            more()
        buf = buf[buf.index(b"\r\n") + 2:]
        if buf.startswith(b"\r\n"):
            headers_blob, buf = b"", buf[2:]
        else:
            while b"\r\n\r\n" not in buf:
                if len(buf) > 16384:
                    raise ApiError(400, "malformed multipart body (part headers)")
                more()
            j = buf.index(b"\r\n\r\n")
            headers_blob, buf = buf[:j], buf[j + 4:]
        disp = ""
        for hline in headers_blob.decode("utf-8", "replace").split("\r\n"):
            k, _, v = hline.partition(":")
            if k.strip().lower() == "content-disposition":
                disp = v
        name = _disp_param(disp, "name")
        filename = _disp_param(disp, "filename")
        if name is None:
            raise ApiError(400, "malformed multipart body (part without a name)")
        if filename is not None:
            sink, limit = open_sink(name, filename)
            cur = {"name": name, "filename": filename, "sink": sink, "size": 0, "limit": limit, "data": None}
        else:
            cur = {"name": name, "filename": None, "sink": None, "size": 0, "limit": field_limit, "data": []}


def _disp_param(disp: str, key: str) -> str | None:
    m = re.search(r'(?:^|;)\s*' + key + r'\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))', disp)
    if not m:
        return None
    return m.group(1).replace('\\"', '"') if m.group(1) is not None else m.group(2)


# ----------------------------------------------------------------------------------------------
# Handler

ROUTES = [
    ("POST", r"/v1/files", "upload_file"),
    ("GET", r"/v1/files", "list_files"),
    ("GET", r"/v1/files/(?P<id>[^/]+)", "get_file"),
    ("DELETE", r"/v1/files/(?P<id>[^/]+)", "delete_file"),
    ("GET", r"/v1/files/(?P<id>[^/]+)/content", "file_content"),
    ("POST", r"/v1/batches", "create_batch"),
    ("GET", r"/v1/batches", "list_batches"),
    ("GET", r"/v1/batches/(?P<id>[^/]+)", "get_batch"),
    ("POST", r"/v1/batches/(?P<id>[^/]+)/cancel", "cancel_batch"),
    ("POST", r"/v1/chat/completions", "chat_completions"),
    ("POST", r"/v1/messages/batches", "create_msg_batch"),
    ("GET", r"/v1/messages/batches", "list_msg_batches"),
    ("GET", r"/v1/messages/batches/(?P<id>[^/]+)", "get_msg_batch"),
    ("DELETE", r"/v1/messages/batches/(?P<id>[^/]+)", "delete_msg_batch"),
    ("POST", r"/v1/messages/batches/(?P<id>[^/]+)/cancel", "cancel_msg_batch"),
    ("GET", r"/v1/messages/batches/(?P<id>[^/]+)/results", "msg_batch_results"),
    ("POST", r"/v1/messages", "messages"),
    ("GET", r"/_emulator/stats", "emu_stats"),
    ("GET", r"/_emulator/config", "emu_get_config"),
    ("POST", r"/_emulator/config", "emu_set_config"),
    ("POST", r"/_emulator/reset", "emu_reset"),
    ("GET", r"/_emulator/health", "emu_health"),
]
COMPILED_ROUTES = [(m, re.compile("^" + p + "/?$"), name, p.replace("(?P<id>[^/]+)", "{id}")) for m, p, name in ROUTES]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fgraph-provider-emulator/1"
    emu: Emulator = None  # set by serve()

    # -- dispatch ----------------------------------------------------------------------------

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def log_message(self, fmt, *args):
        if self.emu.verbose:
            sys.stderr.write("emulator: " + (fmt % args) + "\n")

    def dispatch(self, method: str):
        self.request_id = new_request_id()
        self.reader = None
        split = urlsplit(self.path)
        self.route_path = split.path
        self.query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        self.provider = "anthropic" if self.route_path.startswith("/v1/messages") else "openai"
        route_key = f"{method} {self.route_path}"
        try:
            self.reader = BodyReader(self.rfile, self.headers)
            handler, params = None, {}
            for m, rx, name, pattern in COMPILED_ROUTES:
                mm = rx.match(self.route_path)
                if mm and m == method:
                    handler, params, route_key = getattr(self, "h_" + name), mm.groupdict(), f"{method} {pattern}"
                    break
            self.emu.bump("requests", route_key)
            if handler is None:
                raise ApiError(404, f"Invalid URL ({method} {self.route_path})", code="unknown_url" if self.provider == "openai" else None)
            if not self.route_path.startswith("/_emulator"):
                self.check_auth()
                fault = self.emu.take_http_fault(method, self.route_path)
                if fault is not None:
                    self.answer_fault(*fault)
                    return
            handler(**params)
        except ApiError as exc:
            self.send_error_envelope(exc)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # one catch-all per handler: a bug answers 500, never kills the server
            traceback.print_exc(file=sys.stderr)
            try:
                self.send_error_envelope(ApiError(500, f"emulator internal error: {type(exc).__name__}: {exc}"))
            except Exception:
                self.close_connection = True

    def check_auth(self):
        valid = self.emu.cfg.get("api_keys")
        if self.provider == "openai":
            auth = self.headers.get("Authorization") or ""
            if not auth.startswith("Bearer ") or not auth[7:].strip():
                raise ApiError(401, "You didn't provide an API key. You need to provide your API key in an "
                                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                               err_type="invalid_request_error", code="invalid_api_key")
            key = auth[7:].strip()
            if valid is not None and key not in valid:
                # OpenAI shows the key's first and last characters only.
                shown = key[:3] + "*" * 6 + key[-4:] if len(key) > 8 else "*" * len(key)
                raise ApiError(401, f"Incorrect API key provided: {shown}. You can find your API key at "
                                    "https://platform.openai.com/account/api-keys.",
                               err_type="invalid_request_error", code="invalid_api_key")
        else:
            key = (self.headers.get("x-api-key") or "").strip()
            if not key:
                raise ApiError(401, "x-api-key header is required", err_type="authentication_error")
            if valid is not None and key not in valid:
                raise ApiError(401, "invalid x-api-key", err_type="authentication_error")
            if not (self.headers.get("anthropic-version") or "").strip():
                raise ApiError(400, "anthropic-version: header is required", err_type="invalid_request_error")

    def answer_fault(self, status: int, spec: dict):
        headers = {}
        if spec.get("retry_after") is not None:
            headers["Retry-After"] = str(spec["retry_after"])
        if status == 429:
            msg = spec.get("message") or "Rate limit reached for requests. Please try again later."
            if self.provider == "anthropic":
                err_type, code = "rate_limit_error", None
            else:
                err_type, code = "requests", "rate_limit_exceeded"
        elif status in (401, 403):
            if self.provider == "anthropic":
                msg = spec.get("message") or ("invalid x-api-key" if status == 401 else
                                              "Your API key does not have permission to use the specified resource.")
                err_type, code = ("authentication_error" if status == 401 else "permission_error"), None
            else:
                msg = spec.get("message") or ("Incorrect API key provided." if status == 401 else
                                              "You are not allowed to sample from this model")
                err_type, code = "invalid_request_error", ("invalid_api_key" if status == 401 else None)
        else:
            msg = spec.get("message") or f"The server had an error while processing your request (emulated {status})."
            err_type, code = None, None
        self.send_error_envelope(ApiError(status, msg, err_type=err_type, code=code, headers=headers))

    # -- responses ---------------------------------------------------------------------------

    def finish_body_or_close(self):
        """Reads what is left of a small request body so the connection can be kept; closes it otherwise."""
        reader = self.reader
        if reader is None:
            self.close_connection = True
        elif not reader.eof:
            if reader.chunked or reader.remaining > 8 * 1024 * 1024:
                self.close_connection = True
            else:
                reader.drain()

    def send_bytes(self, status: int, data: bytes, content_type: str, headers: dict | None = None):
        self.finish_body_or_close()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id" if self.provider == "openai" else "request-id", self.request_id)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.emu.bump("responses", str(status))

    def send_json(self, status: int, obj, headers: dict | None = None):
        self.send_bytes(status, json.dumps(obj, ensure_ascii=False).encode(), "application/json", headers)

    def send_file(self, path: str, content_type: str):
        size = os.path.getsize(path)
        self.finish_body_or_close()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(size))
        self.send_header("x-request-id" if self.provider == "openai" else "request-id", self.request_id)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        with open(path, "rb") as f:
            shutil.copyfileobj(f, self.wfile, 1 << 16)
        self.emu.bump("responses", "200")

    def send_error_envelope(self, exc: ApiError):
        if self.provider == "anthropic" and not self.route_path.startswith("/_emulator"):
            body = anthropic_error_body(exc.status, exc.message, exc.err_type, self.request_id)
        else:
            body = openai_error_body(exc.status, exc.message, exc.err_type, exc.code, exc.param)
        self.send_json(exc.status, body, exc.headers)

    def json_body(self, limit: int = 64 * 1024 * 1024):
        raw = self.reader.read_all(limit)
        try:
            obj = json.loads(raw)
        except ValueError:
            raise ApiError(400, "We could not parse the JSON body of your request. (HINT: This likely means you "
                                "aren't using your HTTP library correctly.)" if self.provider == "openai"
                           else "There was an issue with the request body: it is not valid JSON")
        if not isinstance(obj, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return obj

    def base_url(self) -> str:
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
        return f"http://{host}"

    # -- OpenAI files ------------------------------------------------------------------------

    def h_upload_file(self):
        ctype = self.headers.get("Content-Type") or ""
        m = re.search(r'boundary=(?:"([^"]+)"|([^;\s]+))', ctype)
        if not ctype.lower().startswith("multipart/form-data") or not m:
            raise ApiError(400, "Content-Type must be multipart/form-data with a boundary")
        boundary = (m.group(1) or m.group(2)).encode()
        sinks = []

        def open_sink(name, filename):
            if name != "file":
                raise ApiError(400, f"unexpected file field {name!r}", param=name)
            path = self.emu.new_path("upload-")
            sinks.append(path)
            return open(path, "wb"), OPENAI_MAX_FILE_BYTES

        try:
            fields, files = parse_multipart(self.reader, boundary, open_sink)
            if "file" not in files:
                raise ApiError(400, "'file' is a required property", param="file")
            purpose = fields.get("purpose")
            if not purpose:
                raise ApiError(400, "'purpose' is a required property", param="purpose")
            if purpose not in OPENAI_FILE_PURPOSES:
                raise ApiError(400, f"'{purpose}' is not one of {sorted(OPENAI_FILE_PURPOSES)} - 'purpose'", param="purpose")
            filename, size = files["file"]
            if purpose == "batch":
                if not filename.endswith(".jsonl"):
                    raise ApiError(400, "Invalid file format for Batch API. Must be .jsonl", param="file")
                if size > OPENAI_MAX_BATCH_FILE_BYTES:
                    raise ApiError(400, f"File is too large for Batch API: {size} bytes (max {OPENAI_MAX_BATCH_FILE_BYTES})", param="file")
                if size == 0:
                    raise ApiError(400, "File is empty.", param="file")
        except BaseException:
            for p in sinks:
                try:
                    os.unlink(p)
                except OSError:
                    pass
            raise
        rec = self.emu.add_file(filename, purpose, sinks[-1], size)
        secs = fields.get("expires_after[seconds]")
        if secs:
            try:
                secs_i = int(secs)
            except ValueError:
                secs_i = -1
            if not 3600 <= secs_i <= 2592000:
                raise ApiError(400, "expires_after[seconds] must be between 3600 and 2592000", param="expires_after")
            rec.expires_at = rec.created_at + secs_i
        with self.emu.lock:
            self.emu.stats["files_uploaded"] += 1
        self.send_json(200, self.file_json(rec))

    @staticmethod
    def file_json(rec: FileRec) -> dict:
        return {"id": rec.id, "object": "file", "bytes": rec.bytes, "created_at": rec.created_at,
                "filename": rec.filename, "purpose": rec.purpose, "status": "processed",
                "expires_at": rec.expires_at, "status_details": None}

    def get_file_rec(self, file_id: str) -> FileRec:
        with self.emu.lock:
            rec = self.emu.files.get(file_id)
        if rec is None:
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return rec

    def h_list_files(self):
        purpose = self.query.get("purpose")
        order = self.query.get("order", "desc")
        limit = self.int_query("limit", 10000, 1, 10000)
        with self.emu.lock:
            recs = [r for r in self.emu.files.values() if not purpose or r.purpose == purpose]
        recs.sort(key=lambda r: (r.created_at, r.id), reverse=(order != "asc"))
        after = self.query.get("after")
        if after:
            ids = [r.id for r in recs]
            recs = recs[ids.index(after) + 1:] if after in ids else []
        page = recs[:limit]
        self.send_json(200, {"object": "list", "data": [self.file_json(r) for r in page],
                             "first_id": page[0].id if page else None, "last_id": page[-1].id if page else None,
                             "has_more": len(recs) > limit})

    def h_get_file(self, id):
        self.send_json(200, self.file_json(self.get_file_rec(id)))

    def h_delete_file(self, id):
        rec = self.get_file_rec(id)
        with self.emu.lock:
            self.emu.files.pop(id, None)
        try:
            os.unlink(rec.path)
        except OSError:
            pass
        self.send_json(200, {"id": id, "object": "file", "deleted": True})

    def h_file_content(self, id):
        rec = self.get_file_rec(id)
        self.send_file(rec.path, "application/octet-stream")

    def int_query(self, key: str, default: int, lo: int, hi: int) -> int:
        raw = self.query.get(key)
        if raw is None:
            return default
        try:
            val = int(raw)
        except ValueError:
            raise ApiError(400, f"Invalid '{key}': expected an integer", param=key)
        if not lo <= val <= hi:
            raise ApiError(400, f"Invalid '{key}': must be between {lo} and {hi}", param=key)
        return val

    # -- OpenAI batches ----------------------------------------------------------------------

    def h_create_batch(self):
        body = self.json_body()
        input_file_id = body.get("input_file_id")
        endpoint = body.get("endpoint")
        window = body.get("completion_window")
        metadata = body.get("metadata")
        for key, val in (("input_file_id", input_file_id), ("endpoint", endpoint), ("completion_window", window)):
            if not isinstance(val, str) or not val:
                raise ApiError(400, f"Missing required parameter: '{key}'.", param=key, code="missing_required_parameter")
        if endpoint not in OPENAI_BATCH_ENDPOINTS:
            raise ApiError(400, f"Invalid value: '{endpoint}'. Supported values are: {sorted(OPENAI_BATCH_ENDPOINTS)}", param="endpoint", code="invalid_value")
        if window != "24h":
            raise ApiError(400, f"Invalid value: '{window}'. Supported values are: '24h'.", param="completion_window", code="invalid_value")
        if metadata is not None:
            if not isinstance(metadata, dict) or len(metadata) > 16 or any(
                    not isinstance(k, str) or len(k) > 64 or not isinstance(v, str) or len(v) > 512
                    for k, v in metadata.items()):
                raise ApiError(400, "Invalid 'metadata': at most 16 pairs, keys up to 64 chars, string values up to 512 chars.", param="metadata")
        rec = self.get_file_rec(input_file_id)
        if rec.purpose != "batch":
            raise ApiError(400, f"File {input_file_id} has purpose '{rec.purpose}', expected 'batch'.", param="input_file_id")
        # a private hard link keeps the input readable even if the file is deleted meanwhile
        own = self.emu.new_path("batchin-")
        os.unlink(own)
        try:
            os.link(rec.path, own)
        except OSError:
            shutil.copyfile(rec.path, own)
        custom_ids, errors, model = validate_openai_input(own, endpoint)
        with self.emu.lock:
            b = Batch(provider="openai", id="batch_" + uuid.uuid4().hex[:24], seq=self.emu.seq + 1,
                      created_at=time.time(), cfg=dict(self.emu.cfg), requests_path=own,
                      custom_ids=custom_ids, endpoint=endpoint, input_file_id=input_file_id,
                      completion_window=window, metadata=metadata, model=model, validation_errors=errors)
            self.emu.seq += 1
            self.emu.batches[b.id] = b
            self.emu.stats["batches_created"]["openai"] += 1
            data = openai_batch_json(b)
        self.send_json(200, data)

    def get_batch_rec(self, batch_id: str, provider: str) -> Batch:
        with self.emu.lock:
            b = self.emu.batches.get(batch_id)
        if b is None or b.provider != provider:
            if provider == "openai":
                raise ApiError(404, f"No batch found with id '{batch_id}'.", param="batch_id")
            raise ApiError(404, f"Message batch {batch_id} not found", err_type="not_found_error")
        return b

    def h_get_batch(self, id):
        b = self.get_batch_rec(id, "openai")
        poll(self.emu, b)
        with self.emu.lock:
            data = openai_batch_json(b)
        self.send_json(200, data)

    def h_list_batches(self):
        limit = self.int_query("limit", 20, 1, 100)
        with self.emu.lock:
            items = sorted((b for b in self.emu.batches.values() if b.provider == "openai"), key=lambda b: b.seq, reverse=True)
            after = self.query.get("after")
            if after:
                ids = [b.id for b in items]
                items = items[ids.index(after) + 1:] if after in ids else []
            page = [openai_batch_json(b) for b in items[:limit]]
        self.send_json(200, {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                             "last_id": page[-1]["id"] if page else None, "has_more": len(items) > limit})

    def h_cancel_batch(self, id):
        b = self.get_batch_rec(id, "openai")
        with self.emu.lock:
            if b.terminal or b.worker is not None:
                raise ApiError(400, f"Cannot cancel a batch with status '{b.status}'.")
            if not b.cancel_requested:
                b.cancel_requested = True
                b.status = "cancelling"
                b.times["cancelling_at"] = time.time()
            data = openai_batch_json(b)
        self.send_json(200, data)

    # -- OpenAI sync -------------------------------------------------------------------------

    def h_chat_completions(self):
        body = self.json_body()
        view = view_of("openai", None, body)
        if view.problem:
            raise ApiError(400, view.problem, code="invalid_request")
        self.answer_sync(view)

    def answer_sync(self, view: RequestView):
        with self.emu.lock:
            cfg = dict(self.emu.cfg)
        view.live = True
        view.answer_model = cfg.get("answer_model")
        key = "sync:" + hashlib.sha256(view.document.encode()).hexdigest()[:16]
        attempt = self.emu.next_attempt(key)
        failure = row_error_of(cfg, view, attempt)
        if failure is not None:
            status, etype, message = failure
            self.emu.bump("rows", "errored")
            raise ApiError(status, message, err_type=etype if self.provider == "anthropic" else None)
        sibling = self.emu.other_document(view.document) if cfg["mode"] == "concatenating" else None
        self.emu.note_document(view.document)
        try:
            ans = mutate(make_answer(cfg, view, sibling), mutation_of(cfg, view, attempt), view.max_tokens)
            ans = self.emu.apply_prompt_cache(cfg, view, ans)
        except ForwardError as exc:
            raise ApiError(502 if self.provider == "openai" else 500, str(exc))
        self.emu.bump("answered_sync", key)
        self.emu.bump("rows", "succeeded")
        if self.provider == "openai":
            self.send_json(200, render_openai(view, ans, int(time.time())))
        else:
            self.send_json(200, render_anthropic(view, ans, batch=False))

    # -- Anthropic ---------------------------------------------------------------------------

    def h_messages(self):
        body = self.json_body(32 * 1024 * 1024)
        view = view_of("anthropic", None, body)
        if view.problem:
            raise ApiError(400, view.problem)
        self.answer_sync(view)

    def h_create_msg_batch(self):
        body = self.json_body(ANTHROPIC_MAX_BATCH_BYTES)
        reqs = body.get("requests")
        if not isinstance(reqs, list) or not reqs:
            raise ApiError(400, "requests: field required (a non-empty array)")
        if len(reqs) > ANTHROPIC_MAX_REQUESTS:
            raise ApiError(400, f"requests: at most {ANTHROPIC_MAX_REQUESTS} items")
        seen = set()
        for i, r in enumerate(reqs):
            if not isinstance(r, dict):
                raise ApiError(400, f"requests.{i}: expected an object")
            cid = r.get("custom_id")
            if not isinstance(cid, str) or not CUSTOM_ID_RE.match(cid):
                raise ApiError(400, f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
            if cid in seen:
                raise ApiError(400, f"requests.{i}.custom_id: duplicate custom_id '{cid}'; each custom_id must be unique within the batch")
            seen.add(cid)
            if not isinstance(r.get("params"), dict):
                raise ApiError(400, f"requests.{i}.params: field required")
            if r["params"].get("stream"):
                raise ApiError(400, f"requests.{i}.params.stream: streaming is not supported in batches")
        path = self.emu.new_path("msgbatch-")
        with open(path, "w", encoding="utf-8") as f:
            for r in reqs:
                f.write(json.dumps({"custom_id": r["custom_id"], "params": r["params"]}, ensure_ascii=False) + "\n")
        ids = [r["custom_id"] for r in reqs]
        del reqs, body
        with self.emu.lock:
            b = Batch(provider="anthropic", id="msgbatch_" + uuid.uuid4().hex[:24], seq=self.emu.seq + 1,
                      created_at=time.time(), cfg=dict(self.emu.cfg), requests_path=path, custom_ids=ids,
                      status="in_progress")
            b.times["in_progress_at"] = b.created_at
            self.emu.seq += 1
            self.emu.batches[b.id] = b
            self.emu.stats["batches_created"]["anthropic"] += 1
            data = anthropic_batch_json(b, self.base_url())
        self.send_json(200, data)

    def h_get_msg_batch(self, id):
        b = self.get_batch_rec(id, "anthropic")
        poll(self.emu, b)
        with self.emu.lock:
            data = anthropic_batch_json(b, self.base_url())
        self.send_json(200, data)

    def h_list_msg_batches(self):
        limit = self.int_query("limit", 20, 1, 1000)
        with self.emu.lock:
            items = sorted((b for b in self.emu.batches.values() if b.provider == "anthropic"), key=lambda b: b.seq, reverse=True)
            ids = [b.id for b in items]
            after, before = self.query.get("after_id"), self.query.get("before_id")
            if after:
                items = items[ids.index(after) + 1:] if after in ids else []
                page_items = items[:limit]
                has_more = len(items) > limit
            elif before:
                items = items[:ids.index(before)] if before in ids else []
                page_items = items[-limit:]
                has_more = len(items) > limit
            else:
                page_items = items[:limit]
                has_more = len(items) > limit
            page = [anthropic_batch_json(b, self.base_url()) for b in page_items]
        self.send_json(200, {"data": page, "has_more": has_more,
                             "first_id": page[0]["id"] if page else None, "last_id": page[-1]["id"] if page else None})

    def h_cancel_msg_batch(self, id):
        b = self.get_batch_rec(id, "anthropic")
        with self.emu.lock:
            if not b.terminal and b.worker is None and not b.cancel_requested:
                b.cancel_requested = True
                b.times["cancelling_at"] = time.time()
            data = anthropic_batch_json(b, self.base_url())
        self.send_json(200, data)

    def h_delete_msg_batch(self, id):
        b = self.get_batch_rec(id, "anthropic")
        with self.emu.lock:
            if not b.terminal:
                raise ApiError(400, f"Message batch {id} cannot be deleted while it is still processing; cancel it first.")
            self.emu.batches.pop(id, None)
        self.send_json(200, {"id": id, "type": "message_batch_deleted"})

    def h_msg_batch_results(self, id):
        b = self.get_batch_rec(id, "anthropic")
        with self.emu.lock:
            path = b.results_path if b.terminal else None
        if path is None:
            raise ApiError(400, f"Message batch {id} has not ended yet; results are available once processing_status is 'ended'.")
        self.send_file(path, "application/x-jsonl")

    # -- emulator control --------------------------------------------------------------------

    def h_emu_stats(self):
        with self.emu.lock:
            stats = json.loads(json.dumps(self.emu.stats))
            stats["attempts"] = dict(self.emu.attempts)
            stats["files"] = len(self.emu.files)
            stats["batches"] = {b.id: b.status for b in self.emu.batches.values()}
        answered = stats["answered"]
        stats["answered_total"] = sum(answered.values())
        stats["answered_max"] = max(answered.values(), default=0)
        self.send_json(200, stats)

    def h_emu_get_config(self):
        with self.emu.lock:
            data = dict(self.emu.cfg)
            data["_http_faults_left"] = dict(self.emu.fault_left)
        self.send_json(200, data)

    def h_emu_set_config(self):
        body = self.json_body()
        with self.emu.lock:
            try:
                cfg = merge_config(self.emu.cfg, body)
            except ConfigError as exc:
                raise ApiError(400, str(exc))
            self.emu.cfg = cfg
            for k, v in body.items():
                if HTTP_FAULT_KEY_RE.match(k):
                    if v is None:
                        self.emu.fault_left.pop(k, None)
                    else:
                        self.emu.fault_left[k] = v.get("count", 1)
            data = dict(cfg)
        self.send_json(200, data)

    def h_emu_reset(self):
        self.reader.drain()
        self.emu.reset()
        self.send_json(200, {"reset": True})

    def h_emu_health(self):
        self.send_json(200, {"ok": True})


def validate_openai_input(path: str, endpoint: str) -> tuple[list, list, str | None]:
    """Checks a batch input file line by line. Returns (custom_ids, errors, model)."""
    ids, errors, seen, models = [], [], set(), set()

    def err(code, message, line, param=None):
        if len(errors) < 100:
            errors.append({"code": code, "message": message, "param": param, "line": line})

    size = os.path.getsize(path)
    if size > OPENAI_MAX_BATCH_FILE_BYTES:
        err("file_too_large", f"The input file is larger than {OPENAI_MAX_BATCH_FILE_BYTES} bytes.", None)
    lineno = 0
    with open(path, "rb") as f:
        for raw in f:
            lineno += 1
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                err("invalid_json_line", f"This line is not parseable as valid JSON.", lineno)
                continue
            if not isinstance(obj, dict):
                err("invalid_json_line", "Each line must be a JSON object.", lineno)
                continue
            cid = obj.get("custom_id")
            if not isinstance(cid, str) or not cid:
                err("missing_required_parameter", "Missing required parameter: 'custom_id'.", lineno, "custom_id")
                continue
            if cid in seen:
                err("duplicate_custom_id", f"The custom_id '{cid}' is duplicated; custom_id must be unique.", lineno, "custom_id")
                continue
            seen.add(cid)
            ids.append(cid)
            if obj.get("method") != "POST":
                err("invalid_method", "The 'method' must be 'POST'.", lineno, "method")
            if obj.get("url") != endpoint:
                err("mismatched_endpoint", f"The 'url' of this line must match the batch endpoint '{endpoint}'.", lineno, "url")
            body = obj.get("body")
            if not isinstance(body, dict):
                err("missing_required_parameter", "Missing required parameter: 'body'.", lineno, "body")
                continue
            if body.get("stream"):
                err("invalid_value", "Streaming is not supported in batches.", lineno, "body.stream")
            if isinstance(body.get("model"), str):
                models.add(body["model"])
    if not ids and not errors:
        err("empty_file", "The input file contains no requests.", None)
    if len(ids) > OPENAI_MAX_BATCH_LINES:
        err("too_many_tasks", f"The batch has {len(ids)} requests; at most {OPENAI_MAX_BATCH_LINES} are allowed.", None)
    if len(models) > 1:
        err("mismatched_model", "All requests in a batch must use the same model: " + ", ".join(sorted(models)), None, "body.model")
    return ids, errors, (sorted(models)[0] if models else None)


# ----------------------------------------------------------------------------------------------
# Main

def serve(host: str, port: int, base_cfg: dict, data_dir: str | None, verbose: bool) -> int:
    own_dir = data_dir is None
    data_dir = data_dir or tempfile.mkdtemp(prefix="fgraph-emulator-")
    os.makedirs(data_dir, exist_ok=True)
    emu = Emulator(base_cfg, data_dir, verbose)
    handler = type("BoundHandler", (Handler,), {"emu": emu})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    print(f"LISTENING {server.server_address[1]}", flush=True)

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="fgraph provider emulator (OpenAI + Anthropic batch protocols)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port (printed as LISTENING <port>)")
    ap.add_argument("--mode", choices=["deterministic", "forward", "concatenating"], default=None)
    ap.add_argument("--forward-url", default=None, help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8081/v1")
    ap.add_argument("--config", default=None, help="initial config as a JSON object (same keys as POST /_emulator/config)")
    ap.add_argument("--data-dir", default=None, help="where files are kept (default: a temp dir removed on exit)")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args(argv)
    update = {}
    if args.config:
        try:
            update.update(json.loads(args.config))
        except ValueError as exc:
            ap.error(f"--config is not JSON: {exc}")
    if args.forward_url:
        update["forward_url"] = args.forward_url
    if args.mode:
        update["mode"] = args.mode
    try:
        cfg = merge_config(DEFAULT_CONFIG, update)
    except ConfigError as exc:
        ap.error(str(exc))
    return serve(args.host, args.port, cfg, args.data_dir, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
