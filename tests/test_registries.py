"""Registries, not if-chains: probes, transports and output writers declare themselves by name.

Each test adds a new member the way a contributor would (one module's worth of code and one
``register`` call) and checks that the rest of dcctl uses it with nothing else touched; and that
an unknown name is an error, never a silent fallback.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass

import pytest

from dcctl.errors import InputError
from dcctl.inventory.model import TRANSPORTS
from dcctl.model.command import Command, CommandResult
from dcctl.probes import base as probe_base
from dcctl.probes.base import Outputs, Step, recogniser, register, registered
from dcctl.probes.gather import probe_host
from dcctl.probes.registry import PROBES, select_probes
from dcctl.probes.summary import summarize
from dcctl.render.console import make_console
from dcctl.render.output import Output, schema_id
from dcctl.render.writers import WRITERS
from dcctl.render.writers import base as writer_base
from dcctl.transport.fake import FakeTransport
from dcctl.transport.local import LocalTransport
from dcctl.transport.registry import make_transport, transport_names
from dcctl.transport.ssh import SshContext, SshTransport
from dcctl.transport.target import SshSettings, Target

# ---------------------------------------------------------------------------------- probes


@dataclass
class LinkCount:
    links: int


class NvlinkCountProbe:
    """A new probe as a contributor writes it: steps, a pure parser, a summary."""

    name: str = "nvlink-test"
    steps: tuple[Step, ...] = (
        Step("nvlink-test.status", "nvidia-smi nvlink -s", recogniser(r"^nvidia-smi nvlink -s")),
    )

    def parse(self, outputs: Outputs) -> LinkCount:
        out = outputs.get("nvlink-test.status")
        text = out.text if out is not None else ""
        return LinkCount(sum(1 for line in text.splitlines() if "Link " in line))

    def summarize(self, result: LinkCount) -> str:
        return f"{result.links} NVLinks"


@pytest.fixture()
def extra_probe(monkeypatch):
    monkeypatch.setattr(probe_base, "_REGISTERED", dict(probe_base._REGISTERED))
    monkeypatch.setattr(probe_base, "_ORDERED", None)
    probe = register(NvlinkCountProbe(), order=60)
    yield probe
    monkeypatch.setattr(probe_base, "_ORDERED", None)


def test_builtin_probes_are_registered_in_order():
    assert tuple(PROBES) == ("gpu", "nvlink", "network", "system", "storage", "security")
    assert all(callable(p.parse) and callable(p.summarize) for p in PROBES.values())


def test_a_new_probe_is_one_module_and_one_register_call(extra_probe):
    assert list(registered())[-1] == "nvlink-test"
    (chosen,) = select_probes(["nvlink-test"])
    assert chosen is extra_probe

    # The one-round-trip script runs its step; its parser and summary are used as is.
    def answer(command: Command) -> CommandResult:
        script = command.argv[2]
        assert "nvidia-smi nvlink -s" in script
        boundary = re.search(r"DCCTL-[0-9a-f]{16}", script).group(0)
        return CommandResult(
            0,
            f"{boundary} BEGIN nvlink-test.status\nGPU 0:\n Link 0: 26 GB/s\n Link 1: 26 GB/s\n"
            f"{boundary} END nvlink-test.status rc=0\n",
        )

    report = probe_host(FakeTransport("n1", {r"sh -c .*": answer}), [extra_probe])
    assert report.results["nvlink-test"] == LinkCount(2)
    assert summarize("nvlink-test", report.results["nvlink-test"]) == "2 NVLinks"


def test_a_probe_name_registered_twice_is_a_bug(extra_probe):
    with pytest.raises(ValueError, match="registered twice"):
        register(NvlinkCountProbe(), order=70)


def test_unknown_probe_is_an_error_with_a_suggestion():
    with pytest.raises(InputError, match="unknown probe 'gpuu' \\(did you mean 'gpu'\\?\\)"):
        select_probes(["gpuu"])


# ------------------------------------------------------------------------------- transports


def test_every_inventory_transport_is_registered_and_fake_is_selectable():
    assert set(TRANSPORTS) <= set(transport_names())
    assert set(transport_names()) == {"local", "ssh", "fake"}
    context = SshContext(config_path=None, use_agent=False)
    target = Target("n1", "10.0.0.1")
    assert isinstance(make_transport("local", target, context), LocalTransport)
    fake = make_transport("fake", target, context)
    assert isinstance(fake, FakeTransport) and fake.run(Command(["true"])).rc == 127


def test_ssh_transport_is_built_from_a_target_not_an_inventory_host(tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text("Host n1\n  HostName 192.0.2.9\n  Port 2222\n  User ops\n")
    context = SshContext(config_path=config, use_agent=False)
    implicit = make_transport("ssh", Target("n1", "n1"), context)
    assert isinstance(implicit, SshTransport)
    assert (implicit.endpoint.hostname, implicit.endpoint.port) == ("192.0.2.9", 2222)
    assert implicit.endpoint.user == "ops" and implicit.host == "n1"
    written = Target("n1", "10.0.0.7", SshSettings(port=22, user="root"), address_is_explicit=True)
    explicit = make_transport("ssh", written, context)
    assert isinstance(explicit, SshTransport)
    assert (explicit.endpoint.hostname, explicit.endpoint.port) == ("10.0.0.7", 22)
    assert explicit.endpoint.user == "root"


def test_unknown_transport_is_an_error_not_ssh():
    context = SshContext(config_path=None, use_agent=False)
    with pytest.raises(InputError, match="unknown transport 'shh' \\(did you mean 'ssh'\\?\\)"):
        make_transport("shh", Target("n1", "n1"), context)


# ---------------------------------------------------------------------------------- writers


class CsvWriter:
    """A new output format as a contributor writes it."""

    name = "csv-test"
    help = "records as comma-separated values"
    machine = True

    def write(self, console, output: Output) -> None:
        rows = list(output.json_records())
        keys = [k for k in rows[0] if k != "schema"]
        console.file.write(",".join(keys) + "\n")
        for row in rows:
            console.file.write(",".join(str(row[k]) for k in keys) + "\n")


def sample_output() -> Output:
    records = [{"host": "n1", "rc": 0}, {"host": "n2", "rc": 1}]
    return Output(
        "test.run",
        lambda: {"hosts": records},
        lambda console: console.print("a table"),
        records=lambda: records,
        record_kind="test.host",
    )


def written(writer_name: str, output: Output) -> str:
    buffer = io.StringIO()
    WRITERS.get(writer_name, writer_base.registered().get(writer_name)).write(
        make_console(file=buffer, no_color=True), output
    )
    return buffer.getvalue()


def test_builtin_writers():
    assert set(WRITERS) == {"table", "json", "jsonl", "nagios", "prometheus"}
    document = json.loads(written("json", sample_output()))
    assert document == {
        "schema": schema_id("test.run"),
        "hosts": [{"host": "n1", "rc": 0}, {"host": "n2", "rc": 1}],
    }
    lines = written("jsonl", sample_output()).splitlines()
    assert [json.loads(line) for line in lines] == [
        {"schema": "dcctl.test.host/1", "host": "n1", "rc": 0},
        {"schema": "dcctl.test.host/1", "host": "n2", "rc": 1},
    ]
    assert written("table", sample_output()) == "a table\n"


def test_a_new_writer_is_one_module_and_one_register_call(monkeypatch):
    monkeypatch.setattr(writer_base, "_WRITERS", dict(writer_base._WRITERS))
    writer_base.register(CsvWriter())
    assert written("csv-test", sample_output()) == "host,rc\nn1,0\nn2,1\n"
    with pytest.raises(ValueError, match="registered twice"):
        writer_base.register(CsvWriter())
