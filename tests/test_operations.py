"""Operating it: health checks, Prometheus metrics across processes, JSON logs, the compose file."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.clients import ChainlitCustomer, PortalAgent, RunningApp
from tests.conftest import app_env, free_port, need
from tests.helpers import PrivateRedis

ROOT = Path(__file__).resolve().parent.parent
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(app: RunningApp, token: str | None = None) -> Samples:
    """Every sample /metrics shows, parsed as Prometheus parses it."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=app.base_url) as http:
        response = await http.get("/metrics", headers=headers)
    response.raise_for_status()
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples: list[Samples], name: str, **labels: str) -> float:
    """The sum over processes of the samples called `name` whose labels include `labels`."""
    return sum(
        value
        for scraped in samples
        for (sample, sample_labels), value in scraped.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


async def both(*apps: RunningApp) -> list[Samples]:
    return list(await asyncio.gather(*(scrape(app) for app in apps)))


async def test_a_handoff_claim_reply_and_rating_move_the_metrics_of_two_processes(tmp_path, postgres_url, redis_url):
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}
    customer_side = await RunningApp(free_port(), app_env(tmp_path / "a", **env)).start()
    agent_side = await RunningApp(free_port(), app_env(tmp_path / "b", **env)).start()
    await agent_side.add_agent("Mika", ["Billing", "General"])
    agent = await PortalAgent(agent_side, "Mika").connect()
    customer = await ChainlitCustomer(customer_side).connect()
    try:
        before = await both(customer_side, agent_side)
        await customer.say("I want to talk to a person about my invoice")
        ticket = await agent.log.wait_for("escalation_request", lambda t: t["thread_id"] == customer.thread_id)
        skill = ticket["skills"][0]
        waiting = await both(customer_side, agent_side)
        # The queue gauge is read from the shared database: both processes report the same ticket.
        assert [total([s], "escalation_engine_tickets_waiting", skill=skill) for s in waiting] == [1, 1]
        assert total(
            waiting, "escalation_engine_escalations_total", reason="handoff_request", skill=skill
        ) == 1 + total(before, "escalation_engine_escalations_total", reason="handoff_request", skill=skill)
        assert (
            total(waiting, "escalation_engine_conversations_total")
            == total(before, "escalation_engine_conversations_total") + 1
        )
        assert (
            total(waiting, "escalation_engine_turn_seconds_count")
            >= total(before, "escalation_engine_turn_seconds_count") + 1
        )
        assert total([waiting[0]], "escalation_engine_chat_sockets") >= 1
        assert total([waiting[1]], "escalation_engine_portal_sockets") >= 1

        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": "Mika here, let me look."}))["ok"]
        assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": "Found it."}))["ok"]
        assert (await agent.call("resolve", {"ticket_id": ticket["id"]}))["ok"]
        prompt = await customer.message_from("Support", "How did we do?")
        await customer.log.wait_for("action", lambda a: a["forId"] == prompt["id"] and a["payload"].get("rating") == 4)
        four = next(
            a for a in customer.log.named("action") if a["forId"] == prompt["id"] and a["payload"]["rating"] == 4
        )
        await customer.click(four)
        await customer.message_from("Support", "Thank you for your feedback")

        after = await both(customer_side, agent_side)
        for histogram in ("wait_seconds", "first_response_seconds"):  # one claim, one first reply of two
            name = f"escalation_engine_{histogram}_count"
            assert total(after, name) == total(before, name) + 1, histogram
        assert (
            total(after, "escalation_engine_csat_rating_count")
            == total(before, "escalation_engine_csat_rating_count") + 1
        )
        assert (
            total(after, "escalation_engine_csat_rating_sum") == total(before, "escalation_engine_csat_rating_sum") + 4
        )
        assert total(after, "escalation_engine_csat_rating_bucket", le="3.0") == total(
            before, "escalation_engine_csat_rating_bucket", le="3.0"
        )
        assert [total([s], "escalation_engine_tickets_waiting", skill=skill) for s in after] == [0, 0]
    finally:
        await customer.close()
        await agent.close()
        await customer_side.stop()
        await agent_side.stop()


async def test_readyz_names_redis_while_it_is_down_and_is_ready_again_once_it_is_back(tmp_path, postgres_url):
    need(shutil.which("redis-server") is not None, "redis-server is not installed")
    redis_server = await PrivateRedis(free_port(), tmp_path).start()
    app = await RunningApp(
        free_port(), app_env(tmp_path / "app", DATABASE_URL=postgres_url, REDIS_URL=redis_server.url)
    ).start()
    try:
        async with httpx.AsyncClient(base_url=app.base_url, timeout=5) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "ready"

            await redis_server.stop()
            started = time.perf_counter()
            down = await http.get("/readyz")
            assert down.status_code == 503
            assert list(down.json()["failing"]) == ["redis"]  # the database and checkpointer still answer
            assert time.perf_counter() - started < 2, "a load balancer polls every second"
            assert (await http.get("/healthz")).status_code == 200  # up, just not ready

            await redis_server.start()
            for _ in range(100):
                if (await http.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("/readyz did not recover after Redis came back")
    finally:
        await app.stop()
        await redis_server.stop()


async def test_metrics_ask_for_the_token_when_one_is_set_and_logs_are_json_lines_naming_the_conversation(
    tmp_path, fake_llm
):
    fake_llm.reset(mode="error")  # the summary refinement fails and says so in the log, about this ticket
    env = app_env(
        tmp_path, LOG_FORMAT="json", METRICS_TOKEN="scrape-me", OPENAI_BASE_URL=fake_llm.url, OPENAI_API_KEY="test"
    )
    app = await RunningApp(free_port(), env).start()
    customer = await ChainlitCustomer(app).connect()
    try:
        async with httpx.AsyncClient(base_url=app.base_url) as http:
            assert (await http.get("/metrics")).status_code == 401
            assert (await http.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text  # embedded defaults: SQLite and the in-process bus
        before = await scrape(app, "scrape-me")
        await customer.say("How do I reset my password?")
        await customer.text_shown("Our assistant is unavailable right now")
        after = await scrape(app, "scrape-me")
        assert total([after], "escalation_engine_llm_errors_total", job="answer") == 1 + total(
            [before], "escalation_engine_llm_errors_total", job="answer"
        )
        ticket_lines: list[dict] = []
        for _ in range(300):  # the LLM client retries before it gives up
            lines = [line for line in app.log_path.read_text().splitlines() if line.strip()]
            ticket_lines = [json.loads(line) for line in lines if "summary refinement" in line]
            if ticket_lines:
                break
            await asyncio.sleep(0.1)
        assert ticket_lines, "the failed summary was not logged"
        assert ticket_lines[0]["thread_id"] == customer.thread_id and ticket_lines[0]["ticket_id"]
        assert ticket_lines[0]["level"] == "WARNING"
        # Every line from the app's first on is one JSON object; Chainlit's CLI may log a line of its own
        # before the app loads ("Running in CI mode").
        first = next(index for index, line in enumerate(lines) if line.startswith("{"))
        assert all(line.endswith("chainlit - Running in CI mode") for line in lines[:first]), lines[:first]
        for line in lines[first:]:
            json.loads(line)
    finally:
        await customer.close()
        await app.stop()


def test_the_compose_file_is_valid_and_refuses_to_start_without_its_secrets():
    need(shutil.which("docker-compose") is not None, "docker-compose is not installed (apt-get install docker-compose)")
    secrets = {
        "POSTGRES_PASSWORD": "pg-secret",
        "PORTAL_SECRET": "portal-secret",
        "CHAINLIT_AUTH_SECRET": "chat-secret",
    }
    command = ["docker-compose", "--project-directory", str(ROOT), "-f", str(ROOT / "compose.yaml"), "config"]
    environment = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    checked = subprocess.run(command, capture_output=True, text=True, env={**environment, **secrets}, timeout=60)
    assert checked.returncode == 0, checked.stderr
    config = yaml.safe_load(checked.stdout)
    assert set(config["services"]) == {"postgres", "redis", "app1", "app2", "proxy"}
    for replica in ("app1", "app2"):
        app = config["services"][replica]
        assert app["environment"]["DATABASE_URL"] == "postgresql://escalation:pg-secret@postgres:5432/escalation"
        assert app["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert app["environment"]["PORTAL_SECRET"] == "portal-secret"
        assert "/readyz" in " ".join(app["healthcheck"]["test"])
    assert config["services"]["proxy"]["depends_on"]["app1"]["condition"] == "service_healthy"
    assert "ip_hash;" in (ROOT / "deploy" / "nginx.conf").read_text()  # sticky sessions for socket.io

    missing = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=60)
    assert missing.returncode != 0 and "POSTGRES_PASSWORD" in missing.stderr


async def _raw_post(app: RunningApp, path: str, content_length: int) -> str:
    """Sends only the headers of a POST declaring `content_length` bytes and returns the status line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {content_length}\r\n\r\n".encode()
        )
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), 10)).decode().strip()
    finally:
        writer.close()


async def test_an_oversized_body_is_refused_with_413_before_it_is_sent_on_every_route(app):
    """engine.io's long polling on both sockets, an upload and any other route: 300 MB declared, nothing
    sent, the answer is there at once; a normal packet still goes through."""
    async with httpx.AsyncClient(base_url=app.base_url, timeout=10) as http:
        for socket_path in ("/ws/socket.io/", "/portal/socket.io/"):
            opened = await http.get(socket_path, params={"EIO": "4", "transport": "polling"})
            sid = json.loads(opened.text[1:])["sid"]
            query = f"{socket_path}?EIO=4&transport=polling&sid={sid}"
            assert (await _raw_post(app, query, 300_000_000)).startswith("HTTP/1.1 413")
            fine = await http.post(socket_path, params={"EIO": "4", "transport": "polling", "sid": sid}, content="40")
            assert fine.status_code == 200
    for path in ("/project/file?session_id=x", "/auth/header", "/portal/login"):
        assert (await _raw_post(app, path, 300_000_000)).startswith("HTTP/1.1 413"), path


MALFORMED_FRAMES = [
    *("4", "x", "42", "4[", "40{", "42[", "42[null]", "42[123,{}]", "2probe", "41", "43", "44{}", "45-", "46"),
    *("\x00", "4\u00ed", "42" + "[" * 500, '42["message", ' + '{"a":' * 300 + "1" + "}" * 300 + "]"),
]


async def test_malformed_socket_frames_leave_no_traceback_and_the_app_serves_on(app):
    """Before and after the handshake, on the chat's socket and the portal's: a frame engine.io or socket.io
    cannot decode costs the sender their connection and the log one line a while, not a traceback each."""
    import websockets

    moment = time.time()
    for path in ("/ws/socket.io/", "/portal/socket.io/"):
        for handshake in (False, True):
            for frame in MALFORMED_FRAMES:
                url = f"ws://127.0.0.1:{app.port}{path}?EIO=4&transport=websocket"
                async with websockets.connect(url) as socket:
                    await socket.recv()  # engine.io's open packet
                    if handshake:
                        await socket.send("40")
                    await socket.send(frame)
                    await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)
    logged = app.log_since(moment, lines=100_000)
    assert "Traceback" not in logged, logged[-3000:]
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{app.base_url}/healthz")).status_code == 200


async def test_a_socket_that_never_completes_the_handshake_is_closed(app):
    """engine.io alone keeps a connection that answers pings; without socket.io's CONNECT it is closed."""
    import websockets
    from websockets.exceptions import ConnectionClosed

    for path in ("/ws/socket.io/", "/portal/socket.io/"):
        async with websockets.connect(f"ws://127.0.0.1:{app.port}{path}?EIO=4&transport=websocket") as socket:
            await socket.recv()  # engine.io's open packet
            closed = False
            async with asyncio.timeout(60):  # a connection kept past a ping or two was not going to close
                while not closed:  # answer every ping, as a live client does, and never connect
                    try:
                        frame = await socket.recv()
                    except ConnectionClosed:
                        break
                    if frame == "2":
                        await socket.send("3")
                    closed = frame == "1"  # engine.io's close packet: the server has let the connection go


async def test_a_request_whose_headers_never_finish_is_cut_off_and_others_are_not(tmp_path):
    """Slowloris: a connection that sends nothing, or a request head a byte at a time, is closed once
    REQUEST_HEAD_SECONDS have passed; a whole request, a keep-alive one after it and a websocket are not."""
    import websockets

    running = await RunningApp(free_port(), app_env(tmp_path, REQUEST_HEAD_SECONDS="1")).start()
    try:

        async def closed_within(writer_does, seconds: float) -> bool:
            reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
            try:
                trickle = asyncio.create_task(writer_does(writer))
                try:
                    await asyncio.wait_for(reader.read(), seconds)  # all there is, until the server closes
                    return True
                except TimeoutError:
                    return False
                finally:
                    trickle.cancel()
            finally:
                writer.close()

        async def nothing(writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(60)

        async def a_byte_at_a_time(writer: asyncio.StreamWriter) -> None:
            for byte in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.1)

        async def one_request_then_half_of_one(writer: asyncio.StreamWriter) -> None:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(0.3)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127")
            await writer.drain()
            await asyncio.sleep(60)

        assert await closed_within(nothing, 5)
        assert await closed_within(a_byte_at_a_time, 5)
        assert await closed_within(one_request_then_half_of_one, 5)

        async with httpx.AsyncClient(base_url=running.base_url) as http:  # keep-alive, requests 2 s apart
            for _ in range(2):
                assert (await http.get("/healthz")).status_code == 200
                await asyncio.sleep(2)
        async with websockets.connect(
            f"ws://127.0.0.1:{running.port}/portal/socket.io/?EIO=4&transport=websocket"
        ) as socket:
            await socket.recv()  # engine.io's open packet
            await asyncio.sleep(2.5)  # past the head timeout: a websocket is not a request head
            await socket.send("40")
            assert (await asyncio.wait_for(socket.recv(), 5)).startswith("4")
    finally:
        await running.stop()
