"""``quhua serve`` (the viewer under waitress, a production WSGI server) and ``quhua users`` (accounts),
added to the ``quhua`` command through the ``quhua.commands`` entry points."""

from __future__ import annotations

import click

from boundaries.cli import CliContext, who_option, zh

__all__ = ["serve", "users"]

pass_context = click.make_pass_decorator(CliContext)


@zh("在数据库上运行地图浏览器与 OGC API（waitress）。", host="监听地址。", port="端口。", threads="工作线程数。")
@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Worker threads.")
@pass_context
def serve(obj: CliContext, host: str, port: int, threads: int) -> None:
    """Run the map viewer and the OGC API (waitress) on the database."""
    import waitress

    from webmap import create_app
    from webmap.db import safe_url

    app = create_app({"QUHUA_DB": obj.db})
    click.echo(f"quhua viewer on http://{host}:{port}/ (database {safe_url(obj.db)}); Ctrl+C to stop", err=True)
    waitress.serve(app, host=host, port=port, threads=threads)


@zh("浏览器账户：测绘人员、官员、分析人员。")
@click.group()
def users() -> None:
    """Accounts of the viewer: surveyors, officials, analysts."""


@zh("创建（或替换）账户 NAME。",
    role="surveyor：为一个省上传；official：查看全部；analyst：读取与导出。",
    province="测绘人员所属省份（六位代码，如 360000）。", password="密码（未给出时提示输入；或用 $QUHUA_PASSWORD）。")
@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["surveyor", "official", "analyst"]),
              help="surveyor: uploads for one province; official: sees everything; analyst: reads and exports.")
@click.option("--province", metavar="CODE", help="A surveyor's province (six-digit code, e.g. 360000).")
@click.password_option(envvar="QUHUA_PASSWORD", help="The password (prompted if not given; or $QUHUA_PASSWORD).")
@who_option
@pass_context
def users_add(obj: CliContext, name: str, role: str, province: str | None, password: str, who: str) -> None:
    """Create (or replace) the account NAME."""
    from webmap.users import UserStore

    with obj.store() as store:
        user = UserStore(store).add(name, password, role, province)
    obj.audit("user add", who, province=user.province, account=user.name, role=user.role)
    click.echo(f"user {user.name}: {user.role}" + (f" for {user.province}" if user.province else ""))


@zh("列出每个账户及其角色与省份。")
@users.command("list")
@pass_context
def users_list(obj: CliContext) -> None:
    """Every account with its role and province."""
    from webmap.users import UserStore

    with obj.store() as store:
        for user in UserStore(store).list():
            click.echo(f"{user.name}\t{user.role}\t{user.province or ''}")


@zh("删除账户 NAME。")
@users.command("remove")
@click.argument("name")
@who_option
@pass_context
def users_remove(obj: CliContext, name: str, who: str) -> None:
    """Delete the account NAME."""
    from webmap.users import UserStore

    with obj.store() as store:
        removed = UserStore(store).remove(name)
    obj.audit("user remove", who, outcome="ok" if removed else "not found", account=name)
    if not removed:
        raise click.ClickException(f"no user {name!r}")
    click.echo(f"removed {name}")
