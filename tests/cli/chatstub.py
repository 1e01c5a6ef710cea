"""The Slack, Teams and webhook stand-ins (tests/support/chat_server.py) as a
pytest fixture: `chat.url(kind, name, script)` is a webhook URL, `chat.log(name)`
what that name received."""
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parent.parent / "support"


class Chat:
    """tests/support/chat_server.py: Slack, Teams and webhook stand-ins."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, str(SUPPORT / "chat_server.py")],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), line
        self.port = int(line.split()[1])

    def url(self, kind, name, script="200"):
        return f"http://127.0.0.1:{self.port}/{kind}/{name}/T0SECRET/B0SECRET/xoxSECRET?script={script}"

    def log(self, name):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/log/{name}") as r:
            return json.load(r)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def chat():
    c = Chat()
    yield c
    c.stop()
