"""`tracemark serve` against the official `openai` Python client.

Run by `.ci/run` in a virtual environment (`pip install openai pytest`), with TRACEMARK_BIN
naming the release binary. Each answer, whole or streamed, must be detected under the account
it was served to at p <= 1e-4; a wrong API key must raise the client's AuthenticationError.
"""

import json
import os
import subprocess
from pathlib import Path

import openai
import pytest

BIN = os.environ.get("TRACEMARK_BIN", "target/release/tracemark")
PROMPTS = [
    "Write a long story about a lighthouse keeper and a storm.",
    "Explain in detail how bread is made, step by step.",
]
ACCOUNTS = ["alice", "bob"]


def tracemark(*args, cwd):
    """Runs the binary and returns its stdout; fails the test on a non-zero exit."""
    out = subprocess.run([BIN, *args], cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, f"tracemark {' '.join(args)}: {out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A master key (δ = 3, all of it carrying the account), two accounts, a running server."""
    work = tmp_path_factory.mktemp("serve")
    tracemark(
        "keygen", "--out", "master.key", "--delta", "3", "--accounts", "--account-delta", "3",
        cwd=work,
    )
    (work / "accounts.txt").write_text("\n".join(ACCOUNTS) + "\n")
    keys = {
        a: tracemark("accounts", "create", a, "--ledger", "ledger.db", cwd=work).strip()
        for a in ACCOUNTS
    }
    server = subprocess.Popen(
        [BIN, "serve", "--key", "master.key", "--ledger", "ledger.db", "--listen", "127.0.0.1:0"],
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    addr = server.stdout.readline().strip()
    assert addr, server.stderr.read()
    yield work, f"http://{addr}/v1", keys
    server.terminate()
    assert server.wait(timeout=120) == 0
    stderr = server.stderr.read()
    for key in keys.values():
        assert key not in stderr


def ask(client, prompt, seed, stream):
    """One answer, whole or streamed."""
    messages = [{"role": "user", "content": prompt}]
    if not stream:
        r = client.chat.completions.create(
            model="default", messages=messages, max_tokens=200, seed=seed
        )
        assert r.object == "chat.completion"
        assert r.usage.completion_tokens > 0
        return r.choices[0].message.content
    text, usage = [], None
    for chunk in client.chat.completions.create(
        model="default",
        messages=messages,
        max_completion_tokens=200,
        seed=seed,
        stream=True,
        stream_options={"include_usage": True},
    ):
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                text.append(choice.delta.content)
    assert usage is not None and usage.completion_tokens > 0
    return "".join(text)


def account_p_values(work, answer, name):
    """`tracemark trace` on one answer: each account's p-value."""
    path = Path(work) / name
    path.write_text(json.dumps({"prompt": answer[0], "response": answer[1]}) + "\n")
    out = tracemark(
        "trace", "--key", "master.key", "--suspect-outputs", name,
        "--accounts", "accounts.txt", "--json", cwd=work,
    )
    return {a["account"]: a["p_value"] for a in json.loads(out)["accounts"]}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_each_answer_is_detected_under_its_account(served, stream):
    work, base_url, keys = served
    for account in ACCOUNTS:
        client = openai.OpenAI(base_url=base_url, api_key=keys[account], max_retries=0)
        for i, prompt in enumerate(PROMPTS):
            answer = ask(client, prompt, seed=i, stream=stream)
            assert len(answer) > 200, answer
            p = account_p_values(work, (prompt, answer), f"{account}-{i}-{stream}.jsonl")
            other = next(a for a in ACCOUNTS if a != account)
            assert p[account] <= 1e-4, (account, p, answer)
            assert p[other] > 1e-4, (account, p)


def test_a_wrong_key_raises_authentication_error(served):
    _, base_url, _ = served
    client = openai.OpenAI(base_url=base_url, api_key="tmk_" + "0" * 64, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(
            model="default", messages=[{"role": "user", "content": "Hi"}], max_tokens=4
        )
    assert raised.value.status_code == 401


def test_bad_requests_raise_bad_request_error(served):
    _, base_url, keys = served
    client = openai.OpenAI(base_url=base_url, api_key=keys["alice"], max_retries=0)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="default", messages=[], max_tokens=4)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model="default",
            messages=[{"role": "user", "content": "Hi"}],
            max_tokens=10**8,
        )
    assert "max_tokens" in str(raised.value)
    models = client.models.list()
    assert [m.id for m in models.data] == ["SmolLM2-135M-Instruct.Q4_1"]
