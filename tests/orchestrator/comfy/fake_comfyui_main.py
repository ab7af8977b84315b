"""Stands in for ComfyUI's main.py in launcher tests: parses the same flags,
records them, and serves /system_stats until interrupted.

FAKE_COMFY_DIE=<label>  exit at once when this instance is <label> (gpu1, cpu, ...)
FAKE_COMFY_SILENT=1     never answer
FAKE_COMFY_STUBBORN=1   ignore SIGINT and SIGTERM
"""

import argparse
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--listen", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8188)
parser.add_argument("--output-directory")
parser.add_argument("--temp-directory")
parser.add_argument("--cuda-device")
parser.add_argument("--cpu", action="store_true")
parser.add_argument("--disable-auto-launch", action="store_true")
args = parser.parse_args()
label = "cpu" if args.cpu else f"gpu{args.cuda_device}"

os.makedirs(args.output_directory, exist_ok=True)
with open(os.path.join(args.output_directory, "started.json"), "w") as f:
    json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(), "label": label}, f)
print(f"fake ComfyUI {label} starting on port {args.port}", flush=True)

if os.environ.get("FAKE_COMFY_DIE") == label:
    print("fake ComfyUI: CUDA error: no device", flush=True)
    sys.exit(3)
if os.environ.get("FAKE_COMFY_STUBBORN"):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.environ.get("FAKE_COMFY_SILENT"):
    while True:
        time.sleep(1)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/system_stats":
            self.send_error(404)
            return
        body = json.dumps({"system": {"comfyui_version": "fake", "argv": sys.argv}, "devices": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


server = ThreadingHTTPServer((args.listen, args.port), Handler)
try:
    server.serve_forever()
except KeyboardInterrupt:
    with open(os.path.join(args.output_directory, "stopped.txt"), "w") as f:
        f.write("SIGINT")
