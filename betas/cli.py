"""Commands for people and access (`users`, `tokens`) and a beta's deadline (`betas`)."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from betas import clikit, lifecycle, reminders
from betas.audit import Actor
from betas.auth import tokens, users
from betas.db import get_session
from betas.models import ApiToken, Role, User
from betas.people import setup_url
from betas.wording import plural

users_cli = AppGroup("users", help="Manage the people who sign in.")
tokens_cli = AppGroup("tokens", help="Manage API tokens.")
betas_cli = AppGroup("betas", help="A beta's deadline: extensions and reminders.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default="", help="The user's name, shown in Shipcall.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(email, role, name, password_stdin):
    """Create a user; the password comes from a prompt or standard input."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = clikit.commit(
        lambda s: users.create_user(
            s,
            email,
            password,
            Role(role),
            name=name,
            hash_method=current_app.config["SHIPCALL"].password_hash,
        )
    )
    click.echo(f"Created {user.email} ({user.role.value}).")


@users_cli.command("list")
def list_users():
    """List users with their role and whether they are active."""
    for user in get_session().scalars(select(User).order_by(User.email)):
        state = "active" if user.is_active else "deactivated"
        click.echo(f"{user.email}\t{user.role.value}\t{state}\t{user.name}")


@users_cli.command("setup-link")
def setup_link():
    """Print the one-time link that creates the first admin, while nobody can sign in."""
    if users.has_users(get_session()):
        return
    port = current_app.config["SHIPCALL"].port
    with current_app.test_request_context(base_url=f"http://127.0.0.1:{port}"):
        link = setup_url()
    click.echo(f"Shipcall has no users yet. Create the first admin here:\n\n    {link}\n")


@tokens_cli.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(tokens.SCOPES),
    help="Repeat for each scope.",
)
@click.option("--user", "email", help="Whom the token acts as (default: the first admin).")
def create_token(name, scopes, email):
    """Create an API token; the token alone is printed on the last line, this once."""
    session = get_session()
    if email:
        user = users.find_user(session, email)
        if user is None:
            raise click.ClickException(f"There is no user with the email {email}.")
    else:
        user = session.scalar(
            select(User).where(User.role == Role.ADMIN, User.is_active.is_(True)).order_by(User.id)
        )
        if user is None:
            raise click.ClickException("Create an admin first: flask --app wsgi users create")
    token, secret = clikit.commit(lambda s: tokens.create_token(s, name, scopes, user, None))
    click.echo(
        f"Token {token.id} '{token.name}' acts as {user.email} with {' '.join(token.scopes)}."
    )
    click.echo("Copy it now; Shipcall keeps only its hash:")
    click.echo(secret)


@tokens_cli.command("list")
def list_tokens():
    """List tokens: id, name, user, scopes, last use, and whether revoked."""
    for token in get_session().scalars(select(ApiToken).order_by(ApiToken.id)):
        used = token.last_used_at.isoformat() if token.last_used_at else "never used"
        state = "revoked" if token.revoked_at else "live"
        scopes = " ".join(token.scopes)
        click.echo(f"{token.id}\t{token.name}\t{token.user.email}\t{scopes}\t{used}\t{state}")


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def revoke_token(token_id):
    """Revoke the token with this id."""
    token = clikit.commit(lambda s: tokens.revoke_token(s, token_id, None))
    click.echo(f"Token {token.id} '{token.name}' is revoked.")


@betas_cli.command("extend")
@click.argument("key")
@click.option(
    "--to", "new_deadline", required=True, type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD"
)
@click.option("--reason", required=True, help="Why the deadline moves.")
@click.option("--user", "email", required=True, help="Who extends: the beta's owner or an admin.")
def extend(key, new_deadline, reason, email):
    """Move a running beta's deadline later, with a reason."""
    session = get_session()
    user = users.find_user(session, email)
    if user is None:
        raise click.ClickException(f"There is no user with the email {email}.")
    settings = current_app.config["SHIPCALL"]
    extension = clikit.commit(
        lambda s: lifecycle.extend(
            s,
            Actor(user),
            lifecycle.get_beta(s, key),
            new_deadline=new_deadline.date(),
            reason=reason,
            today=lifecycle.today_in(settings.zone),
            max_extensions=settings.max_extensions,
            max_days=settings.max_extension_days,
        ),
        explain=lambda exc: (d["message"] for d in exc.details),
    )
    click.echo(
        f"The deadline of {key} moved from {extension.old_deadline} to {extension.new_deadline}."
    )


@betas_cli.command("remind")
def remind():
    """Send the deadline and checkpoint reminders due today; safe to run often. No SMTP: print."""
    settings = current_app.config["SHIPCALL"]
    # Not through clikit: the claims are committed before the mail goes out, the outcome after.
    report = reminders.send_due(get_session(), settings, lifecycle.today_in(settings.zone))
    if settings.smtp is None:
        click.echo("SHIPCALL_SMTP_URL is not set: nothing is sent and nothing is recorded.")
        if not report.would_send:
            click.echo("No reminder is due today.")
        for reminder in report.would_send:
            click.echo(f"\nWould send to {reminder.mail.to}: {reminder.mail.subject}\n")
            click.echo(reminder.mail.body)
        return
    for reminder in report.sent:
        click.echo(f"Sent to {reminder.mail.to}: {reminder.mail.subject}")
    for reminder, why in report.failed:
        click.echo(f"Not sent to {reminder.mail.to}: {reminder.mail.subject}", err=True)
        click.echo(f"  {why}", err=True)
    if report.failed:
        raise click.ClickException(
            f"{plural(len(report.failed), 'reminder')} could not be sent; the next run tries again."
        )
    if not report.sent:
        click.echo("No reminder is due today (or another run sent it already).")


def init_app(app: Flask) -> None:
    """Register the command groups."""
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(betas_cli)
