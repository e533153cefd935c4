"""Jobs: names, context detection, argument checks, options and the registry."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import pytest

import rota.context
from rota.context import RunContext
from rota.errors import ConfigurationError, InvalidArguments, JobNotFound
from rota.jobs import Job, JobDefaults, JobRegistry, job_from_callable, shell_job
from rota.runs import RunOptions


def send_digest(ctx: RunContext, region: str, *, dry_run: bool = False) -> int:
    return 0


def plain(a: int, b: int = 2) -> int:
    return a + b


def named_ctx(ctx, region):  # type: ignore[no-untyped-def]
    return region


def dotted(context: rota.context.RunContext) -> None: ...


def first_is_not_a_context(region: str, ctx: RunContext) -> None: ...


def star(*args: Any, **kwargs: Any) -> None: ...


async def poll_feeds(ctx: RunContext) -> None: ...


class Nested:
    @staticmethod
    def method(x: int) -> int:
        return x


class AsyncCallable:
    async def __call__(self) -> None: ...


def test_the_default_name_is_module_and_qualname() -> None:
    assert job_from_callable(send_digest).name == "test_jobs.send_digest"
    assert job_from_callable(Nested.method).name == "test_jobs.Nested.method"
    assert job_from_callable(plain, name="adder").name == "adder"


def test_a_shell_job_is_named_after_its_command() -> None:
    job = shell_job("pg_dump app > /tmp/app.sql", timeout=60)
    assert (job.name, job.command, job.func) == (
        "shell:pg_dump app > /tmp/app.sql",
        "pg_dump app > /tmp/app.sql",
        None,
    )
    assert job.defaults.timeout == 60
    assert shell_job("true", name="noop").name == "noop"
    with pytest.raises(ConfigurationError, match="needs a command"):
        shell_job("  ")


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (send_digest, True),
        (named_ctx, True),
        (dotted, True),
        (plain, False),
        (first_is_not_a_context, False),
        (star, False),
    ],
)
def test_the_context_is_detected_by_annotation_or_name(func: Any, expected: bool) -> None:
    assert job_from_callable(func).takes_context is expected


def test_the_context_is_detected_by_a_real_annotation_too() -> None:
    def evaluated(ctx_: int) -> None: ...

    evaluated.__annotations__["ctx_"] = RunContext
    assert job_from_callable(evaluated).takes_context


def test_async_jobs_are_recognised() -> None:
    assert job_from_callable(poll_feeds).is_async
    assert job_from_callable(AsyncCallable(), name="ac").is_async
    assert job_from_callable(functools.partial(poll_feeds), name="p").is_async
    assert not job_from_callable(plain).is_async


def test_arguments_that_fit_pass() -> None:
    job = job_from_callable(send_digest)
    job.check_arguments(["eu"], {})
    job.check_arguments([], {"region": "eu", "dry_run": True})
    job_from_callable(star).check_arguments([1, [2]], {"x": {"y": None}})


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ([], {}, "missing a required argument: 'region'"),
        (["eu", "us"], {}, "too many positional arguments"),
        (["eu"], {"dryrun": True}, "got an unexpected keyword argument 'dryrun'"),
    ],
)
def test_arguments_that_do_not_fit_are_refused_naming_the_job(
    args: list[Any], kwargs: dict[str, Any], message: str
) -> None:
    job = job_from_callable(send_digest)
    with pytest.raises(InvalidArguments) as info:
        job.check_arguments(args, kwargs)
    assert str(info.value) == f"invalid arguments for job 'test_jobs.send_digest': {message}"


def test_arguments_that_are_not_json_are_refused_naming_the_argument() -> None:
    job = job_from_callable(send_digest)
    when = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(
        InvalidArguments, match=r"argument 'region' of job .* not JSON-serializable"
    ):
        job.check_arguments([when], {})
    with pytest.raises(InvalidArguments, match=r"argument 'dry_run' of job .* not JSON"):
        job.check_arguments(["eu"], {"dry_run": {1, 2}})
    with pytest.raises(InvalidArguments, match=r"argument #2 of job .* not JSON"):
        job_from_callable(star).check_arguments([1, float("nan")], {})


def test_a_shell_job_takes_no_arguments() -> None:
    job = shell_job("true")
    job.check_arguments([], {})
    with pytest.raises(InvalidArguments, match="shell job 'shell:true' takes no arguments"):
        job.check_arguments(["x"], {})


def test_options_come_from_defaults_and_overrides() -> None:
    job = job_from_callable(plain, timeout=60, retries=2, backoff=5, max_backoff=50)
    assert job.options() == RunOptions(timeout=60, max_attempts=3, backoff=5, max_backoff=50)
    assert job.options(retries=0, timeout=None, exclusive=True) == RunOptions(
        timeout=None, max_attempts=1, backoff=5, max_backoff=50, exclusive=True
    )
    assert job.options(max_attempts=7).max_attempts == 7


def test_unknown_or_bad_options_are_refused() -> None:
    job = job_from_callable(plain)
    with pytest.raises(ConfigurationError, match=r"unknown run option 'retires'.*'retries'"):
        job.options(retires=3)
    with pytest.raises(ConfigurationError, match="timeout must be positive"):
        job.options(timeout=-1)
    with pytest.raises(ConfigurationError, match=r"unknown option 'timout' for job .*'timeout'"):
        job_from_callable(plain, timout=3)


@pytest.mark.parametrize(
    "values",
    [{"timeout": 0}, {"retries": -1}, {"backoff": -1.0}, {"queue": ""}],
)
def test_bad_defaults_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        JobDefaults(**values)


def test_a_job_needs_exactly_one_of_func_and_command() -> None:
    with pytest.raises(ConfigurationError, match="exactly one of func and command"):
        Job(name="x", func=None, command=None, is_async=False, takes_context=False)
    with pytest.raises(ConfigurationError, match="must be callable"):
        job_from_callable("not callable")  # type: ignore[arg-type]


def test_the_registry_finds_jobs_by_name() -> None:
    registry = JobRegistry()
    digest = registry.add(job_from_callable(send_digest))
    backup = registry.add(shell_job("pg_dump", name="backup"))
    assert registry.get("test_jobs.send_digest") is digest
    assert "backup" in registry
    assert "nothing" not in registry
    assert len(registry) == 2
    assert registry.names() == ["backup", "test_jobs.send_digest"]
    assert list(registry) == [digest, backup]


def test_adding_the_same_job_twice_is_harmless() -> None:
    registry = JobRegistry()
    first = registry.add(job_from_callable(plain, retries=1))
    assert registry.add(job_from_callable(plain, retries=1)) is first
    assert len(registry) == 1


def test_a_name_taken_by_another_job_is_refused() -> None:
    registry = JobRegistry()
    registry.add(job_from_callable(plain, name="work"))
    with pytest.raises(ConfigurationError, match=r"'work' is already taken by test_jobs\.plain"):
        registry.add(job_from_callable(send_digest, name="work"))
    with pytest.raises(ConfigurationError, match="already taken"):
        registry.add(job_from_callable(plain, name="work", retries=3))


def test_an_unknown_name_suggests_the_closest() -> None:
    registry = JobRegistry()
    registry.add(job_from_callable(send_digest, name="send_digest"))
    registry.add(job_from_callable(plain))
    with pytest.raises(JobNotFound) as info:
        registry.get("send_digst")
    assert str(info.value) == "unknown job 'send_digst'; did you mean 'send_digest'?"
    with pytest.raises(JobNotFound, match=r"did you mean 'test_jobs.plain'\?"):
        registry.get("plain")
    with pytest.raises(JobNotFound) as info:
        registry.get("zzz")
    assert str(info.value) == "unknown job 'zzz'"
