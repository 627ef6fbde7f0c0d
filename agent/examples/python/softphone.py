"""The agent from Python (uniffi bindings, module `agent_uniffi`): register,
call a number, stay in the call a moment once answered, hang up, stop.

    python3 softphone.py --switch tcp:HOST:PORT --number 1001 --password PW --call 1002

Prints one line per event (`event KIND call=N status=N text`); exits 0 when
the call was answered and ended and the agent stopped, 1 otherwise.
"""

import argparse
import asyncio
import sys

import agent_uniffi as ua


class Listener(ua.EventListener):
    """Called on the agent's `agent-events` thread: hands each event to the asyncio loop."""

    def __init__(self, loop, queue):
        self.loop = loop
        self.queue = queue

    def on_event(self, event):
        self.loop.call_soon_threadsafe(self.queue.put_nowait, event)


async def next_event(queue, kinds, timeout):
    """The next event of one of `kinds` (printing every event on the way)."""
    async with asyncio.timeout(timeout):
        while True:
            ev = await queue.get()
            print(f"event {ev.kind.name} call={ev.call} status={ev.status} {ev.text}", flush=True)
            if ev.kind in kinds:
                return ev


async def main(args):
    config = ua.AgentConfig(
        switches=args.switch, number=args.number, password=args.password, domain=args.domain, tone_hz=440.0
    )
    queue = asyncio.Queue()
    agent = ua.Agent(config)
    agent.start(Listener(asyncio.get_running_loop(), queue))
    K = ua.EventKind
    await next_event(queue, {K.REGISTERED}, args.timeout)
    call = await agent.call(args.call)
    ev = await next_event(queue, {K.CALL_ANSWERED, K.CALL_ENDED}, args.timeout)
    answered = ev.kind == K.CALL_ANSWERED
    if answered:
        await next_event(queue, {K.MEDIA_STARTED}, args.timeout)
        await asyncio.sleep(args.duration)
        await agent.hangup(call)
        ev = await next_event(queue, {K.CALL_ENDED}, args.timeout)
    await agent.stop()
    await next_event(queue, {K.STOPPED}, args.timeout)
    return 0 if answered and ev.call == call else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--switch", action="append", required=True, help="tcp:HOST[:PORT] or tls:HOST[:PORT]; repeat for nodes")
    p.add_argument("--number", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--domain")
    p.add_argument("--call", required=True, help="the number to call")
    p.add_argument("--duration", type=float, default=1.0, help="seconds in the call once media flows")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each event")
    sys.exit(asyncio.run(main(p.parse_args())))
