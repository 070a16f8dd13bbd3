#!/usr/bin/env python3
"""A TCP proxy in front of PostgreSQL that counts round trips per connection: a client
chunk that follows a server chunk (or is the connection's first) starts a new round trip.
Writes per-connection counters to STATS (JSON) every 0.5 s. Usage: rtproxy.py LISTEN_PORT STATS"""
import asyncio, json, sys, time

listen, stats_path = int(sys.argv[1]), sys.argv[2]
conns = {}
next_id = 0

async def pipe(reader, writer, st, side):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if side == "c":
                if st["last"] != "c":
                    st["round_trips"] += 1
                if b"INSERT INTO txns" in data:
                    st["writer"] = True
                st["client_bytes"] += len(data)
            else:
                st["server_bytes"] += len(data)
            st["last"] = side
            writer.write(data)
            await writer.drain()
    except Exception:
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass

async def handle(cr, cw):
    global next_id
    next_id += 1
    st = {"id": next_id, "round_trips": 0, "last": None, "writer": False,
          "client_bytes": 0, "server_bytes": 0, "open": True}
    conns[next_id] = st
    sr, sw = await asyncio.open_connection("127.0.0.1", 5432)
    await asyncio.gather(pipe(cr, sw, st, "c"), pipe(sr, cw, st, "s"))
    st["open"] = False

async def dump():
    while True:
        with open(stats_path + ".tmp", "w") as f:
            json.dump(list(conns.values()), f)
        import os
        os.replace(stats_path + ".tmp", stats_path)
        await asyncio.sleep(0.05)

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    asyncio.create_task(dump())
    async with server:
        await server.serve_forever()

asyncio.run(main())
