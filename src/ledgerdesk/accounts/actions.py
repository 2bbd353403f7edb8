"""Every change to agents, teams, logins, second factors and tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import delete, select, update

from ledgerdesk.accounts.models import (
    Agent,
    AgentSession,
    ApiToken,
    RecoveryCode,
    Role,
    SiteSetting,
    Team,
    TeamMembership,
)
from ledgerdesk.accounts.principal import AGENT_SCOPES, CUSTOMER_SCOPES, Principal
from ledgerdesk.accounts.queries import REQUIRE_2FA_KEY, get_agent_by_email, is_2fa_required
from ledgerdesk.accounts.secrets import (
    MIN_PASSWORD_LENGTH,
    SecretBox,
    hash_password,
    new_token,
    password_needs_rehash,
    token_digest,
    verify_password,
)
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from ledgerdesk.events.bus import Event

LANGUAGES = ("en", "zh_Hans")
ACCOUNTS_CHANGED = Event("accounts.changed", ("accounts",))


def agent_changed(agent_id: int) -> Event:
    """``accounts.changed`` for one agent's access: only that agent's open real-time
    connections check themselves again (realtime/connection.py)."""
    return Event(ACCOUNTS_CHANGED.kind, ACCOUNTS_CHANGED.topics, {"agent_id": agent_id})


RECOVERY_CODE_COUNT = 10
TOTP_ISSUER = "ledgerdesk"


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int
    lockout: timedelta
    session_ttl: timedelta


@dataclass(frozen=True)
class NewSession:
    token: str
    session: AgentSession
    needs_second_factor: bool
    needs_2fa_setup: bool


def _check_password_strength(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if password.lower() == email.lower():
        raise InvalidInput("password must differ from the email address")


def _check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise InvalidInput(f"language must be one of: {', '.join(LANGUAGES)}")
    return language


async def do_create_agent(
    uow: UnitOfWork,
    *,
    actor: Principal | None,
    email: str,
    name: str,
    password: str,
    role: str = Role.AGENT,
    language: str = "en",
) -> Agent:
    """Create an agent. ``actor`` is None only for the CLI's create-admin and the demo."""
    if actor is not None:
        actor.require_admin()
    email = email.strip().lower()
    if "@" not in email.strip("@"):
        raise InvalidInput(f"{email!r} is not an email address")
    if role not in set(Role):
        raise InvalidInput(f"role must be one of: {', '.join(Role)}")
    _check_password_strength(password, email)
    if await get_agent_by_email(uow.session, email) is not None:
        raise Conflict(f"an agent with email {email} already exists")
    agent = Agent(
        email=email,
        name=name.strip(),
        role=role,
        language=_check_language(language),
        password_hash=hash_password(password),
    )
    uow.session.add(agent)
    await uow.session.flush()
    do_record_audit(
        uow,
        agent_id=actor.agent_id if actor else None,
        action="agent.created",
        object_type="agent",
        object_id=agent.id,
        detail={"email": email, "role": role},
    )
    return agent


async def do_update_agent(
    uow: UnitOfWork,
    *,
    actor: Principal,
    agent: Agent,
    name: str | None = None,
    role: str | None = None,
    language: str | None = None,
    is_active: bool | None = None,
) -> Agent:
    acting = actor.require_agent()
    changes: dict[str, object] = {}
    if role is not None or is_active is not None:
        actor.require_admin()
        if agent.id == acting.id and (role not in (None, Role.ADMIN) or is_active is False):
            raise InvalidInput("admins cannot demote or deactivate themselves")
    elif agent.id != acting.id:
        actor.require_admin()
    if name is not None:
        agent.name = changes["name"] = name.strip()
    if language is not None:
        agent.language = changes["language"] = _check_language(language)
    if role is not None:
        if role not in set(Role):
            raise InvalidInput(f"role must be one of: {', '.join(Role)}")
        agent.role = changes["role"] = role
    if is_active is not None:
        agent.is_active = changes["is_active"] = is_active
        if not is_active:
            await uow.session.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))
    uow.emit(ACCOUNTS_CHANGED)
    do_record_audit(
        uow,
        agent_id=acting.id,
        action="agent.updated",
        object_type="agent",
        object_id=agent.id,
        detail=changes,
    )
    return agent


async def do_create_team(
    uow: UnitOfWork, *, actor: Principal | None, name: str, is_private: bool = False
) -> Team:
    if actor is not None:
        actor.require_admin()
    name = name.strip()
    if not name:
        raise InvalidInput("team name must not be empty")
    existing = await uow.session.execute(select(Team).where(Team.name == name))
    if existing.scalar_one_or_none() is not None:
        raise Conflict(f"a team named {name!r} already exists")
    team = Team(name=name, is_private=is_private)
    uow.session.add(team)
    await uow.session.flush()
    do_record_audit(
        uow,
        agent_id=actor.agent_id if actor else None,
        action="team.created",
        object_type="team",
        object_id=team.id,
        detail={"name": name, "is_private": is_private},
    )
    return team


async def do_add_team_member(
    uow: UnitOfWork, *, actor: Principal | None, team: Team, agent: Agent
) -> None:
    if actor is not None:
        actor.require_admin()
    existing = await uow.session.get(TeamMembership, (team.id, agent.id))
    if existing is None:
        uow.session.add(TeamMembership(team_id=team.id, agent_id=agent.id))
        do_record_audit(
            uow,
            agent_id=actor.agent_id if actor else None,
            action="team.member_added",
            object_type="team",
            object_id=team.id,
            detail={"agent_id": agent.id},
        )
        # Membership of a private team changes what the agent's open connections may see.
        uow.emit(agent_changed(agent.id))


# Login -------------------------------------------------------------------


async def do_login_with_password(
    uow: UnitOfWork,
    *,
    email: str,
    password: str,
    policy: LoginPolicy,
    ip: str | None,
    user_agent: str | None,
) -> NewSession:
    """First step of login. Failures count towards a lockout of the account."""
    now = datetime.now(UTC)
    agent = await get_agent_by_email(uow.session, email)
    if agent is not None and agent.locked_until is not None and agent.locked_until > now:
        # Checked before the password so a locked account reveals nothing new.
        raise NotAuthenticated("too many failed logins; this account is locked for a while")
    if agent is None or not verify_password(agent.password_hash, password) or not agent.is_active:
        if agent is not None:
            agent.failed_logins += 1
            if agent.failed_logins >= policy.max_failures:
                agent.locked_until = now + policy.lockout
                agent.failed_logins = 0
            do_record_audit(
                uow,
                agent_id=agent.id,
                action="login.failed",
                object_type="agent",
                object_id=agent.id,
                ip=ip,
            )
        raise NotAuthenticated("wrong email or password")
    agent.failed_logins = 0
    agent.locked_until = None
    if password_needs_rehash(agent.password_hash):
        agent.password_hash = hash_password(password)
    required = await is_2fa_required(uow.session)
    needs_factor = agent.totp_enabled
    needs_setup = required and not agent.totp_enabled
    token = new_token()
    agent_session = AgentSession(
        token_hash=token_digest(token),
        agent_id=agent.id,
        csrf_token=secrets.token_urlsafe(32),
        stage="password" if (needs_factor or needs_setup) else "active",
        expires_at=now + (timedelta(minutes=10) if needs_factor else policy.session_ttl),
        ip=ip,
        user_agent=(user_agent or "")[:300],
    )
    uow.session.add(agent_session)
    if agent_session.stage == "active":
        agent.last_login_at = now
        do_record_audit(
            uow,
            agent_id=agent.id,
            action="login.succeeded",
            object_type="agent",
            object_id=agent.id,
            ip=ip,
        )
    return NewSession(token, agent_session, needs_factor, needs_setup)


def _verify_totp(box: SecretBox, agent: Agent, code: str, now: datetime) -> bool:
    if not agent.totp_secret_encrypted:
        return False
    totp = pyotp.TOTP(box.decrypt(agent.totp_secret_encrypted))
    code = code.strip().replace(" ", "")
    for drift in (0, -1, 1):
        at = now + timedelta(seconds=30 * drift)
        counter = totp.timecode(at)
        if agent.totp_last_counter is not None and counter <= agent.totp_last_counter:
            continue  # a code is good once: a replayed code is refused
        if secrets.compare_digest(totp.at(at), code):
            agent.totp_last_counter = counter
            return True
    return False


async def _use_recovery_code(uow: UnitOfWork, agent: Agent, code: str) -> bool:
    normalised = code.strip().replace("-", "").replace(" ", "").lower()
    result = await uow.session.execute(
        select(RecoveryCode).where(
            RecoveryCode.agent_id == agent.id,
            RecoveryCode.code_hash == token_digest(normalised),
            RecoveryCode.used_at.is_(None),
        )
    )
    found = result.scalar_one_or_none()
    if found is None:
        return False
    found.used_at = datetime.now(UTC)
    return True


async def do_complete_second_factor(
    uow: UnitOfWork,
    *,
    agent_session: AgentSession,
    code: str,
    box: SecretBox,
    policy: LoginPolicy,
) -> Agent:
    """Second step of login: a TOTP code or an unused recovery code."""
    agent = await uow.session.get(Agent, agent_session.agent_id)
    if agent is None or agent_session.stage != "password" or not agent.totp_enabled:
        raise NotAuthenticated("no login is waiting for a second factor")
    now = datetime.now(UTC)
    if agent.locked_until is not None and agent.locked_until > now:
        raise NotAuthenticated("too many failed attempts; this account is locked for a while")
    used = "totp"
    if not _verify_totp(box, agent, code, now):
        used = "recovery_code"
        if not await _use_recovery_code(uow, agent, code):
            agent.failed_logins += 1
            if agent.failed_logins >= policy.max_failures:
                agent.locked_until = now + policy.lockout
                agent.failed_logins = 0
                await uow.session.delete(agent_session)
            do_record_audit(
                uow,
                agent_id=agent.id,
                action="login.second_factor_failed",
                object_type="agent",
                object_id=agent.id,
                ip=agent_session.ip,
            )
            raise NotAuthenticated("wrong code")
    agent.failed_logins = 0
    agent.last_login_at = now
    agent_session.stage = "active"
    agent_session.expires_at = now + policy.session_ttl
    do_record_audit(
        uow,
        agent_id=agent.id,
        action="login.succeeded",
        object_type="agent",
        object_id=agent.id,
        detail={"second_factor": used},
        ip=agent_session.ip,
    )
    return agent


async def do_logout(uow: UnitOfWork, *, agent_session: AgentSession) -> None:
    await uow.session.delete(agent_session)
    uow.emit(agent_changed(agent_session.agent_id))  # the session's open connections close


def totp_provisioning_uri(box: SecretBox, agent: Agent) -> str:
    if not agent.totp_secret_encrypted:
        raise InvalidInput("two-factor setup has not been started")
    secret = box.decrypt(agent.totp_secret_encrypted)
    return pyotp.TOTP(secret).provisioning_uri(name=agent.email, issuer_name=TOTP_ISSUER)


async def do_begin_totp_setup(uow: UnitOfWork, *, agent: Agent, box: SecretBox) -> str:
    """Make a new secret (kept encrypted) and return it for the authenticator app."""
    if agent.totp_enabled:
        raise Conflict("two-factor authentication is already on; turn it off first")
    secret = pyotp.random_base32()
    agent.totp_secret_encrypted = box.encrypt(secret)
    agent.totp_last_counter = None
    return secret


async def do_confirm_totp_setup(
    uow: UnitOfWork, *, agent: Agent, code: str, box: SecretBox
) -> list[str]:
    """Turn 2FA on once the agent proves the app works; returns fresh recovery codes."""
    if agent.totp_enabled:
        raise Conflict("two-factor authentication is already on")
    if not _verify_totp(box, agent, code, datetime.now(UTC)):
        raise InvalidInput("the code does not match; check the time on your phone and try again")
    agent.totp_enabled = True
    codes = await do_regenerate_recovery_codes(uow, agent=agent)
    do_record_audit(
        uow, agent_id=agent.id, action="2fa.enabled", object_type="agent", object_id=agent.id
    )
    return codes


async def do_regenerate_recovery_codes(uow: UnitOfWork, *, agent: Agent) -> list[str]:
    await uow.session.execute(delete(RecoveryCode).where(RecoveryCode.agent_id == agent.id))
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODE_COUNT)]
    for code in codes:
        uow.session.add(RecoveryCode(agent_id=agent.id, code_hash=token_digest(code)))
    return [f"{code[:5]}-{code[5:]}" for code in codes]


async def do_disable_totp(uow: UnitOfWork, *, actor: Principal, agent: Agent) -> None:
    acting = actor.require_agent()
    if acting.id != agent.id:
        actor.require_admin()  # an admin resets a lost phone
    elif await is_2fa_required(uow.session):
        raise PermissionDenied("two-factor authentication is mandatory here")
    agent.totp_enabled = False
    agent.totp_secret_encrypted = None
    agent.totp_last_counter = None
    await uow.session.execute(delete(RecoveryCode).where(RecoveryCode.agent_id == agent.id))
    do_record_audit(
        uow, agent_id=acting.id, action="2fa.disabled", object_type="agent", object_id=agent.id
    )


async def do_set_2fa_required(uow: UnitOfWork, *, actor: Principal, required: bool) -> None:
    admin = actor.require_admin()
    if required and not admin.totp_enabled:
        raise InvalidInput("turn on two-factor authentication for yourself first")
    row = await uow.session.get(SiteSetting, REQUIRE_2FA_KEY)
    if row is None:
        uow.session.add(SiteSetting(key=REQUIRE_2FA_KEY, value=required))
    else:
        row.value = required
    do_record_audit(
        uow,
        agent_id=admin.id,
        action="security.require_2fa",
        object_type="site",
        object_id="security",
        detail={"required": required},
    )


# API tokens ----------------------------------------------------------------


async def do_create_api_token(
    uow: UnitOfWork,
    *,
    actor: Principal | None,
    name: str,
    scopes: list[str],
    agent: Agent | None = None,
    customer_id: int | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, ApiToken]:
    """Create a token; the clear value is returned once and only its hash is kept."""
    if (agent is None) == (customer_id is None):
        raise InvalidInput("a token belongs to exactly one agent or one customer")
    if actor is not None:
        acting = actor.require_agent()
        if customer_id is not None or (agent is not None and agent.id != acting.id):
            actor.require_admin()
    allowed = CUSTOMER_SCOPES if customer_id is not None else AGENT_SCOPES
    unknown = sorted(set(scopes) - allowed)
    if unknown:
        raise InvalidInput(
            f"unknown or disallowed scopes: {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    if not scopes:
        raise InvalidInput("a token needs at least one scope")
    if agent is not None and "admin" in scopes and agent.role != Role.ADMIN:
        raise InvalidInput("only an admin's token may carry the admin scope")
    if customer_id is not None and await uow.session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} not found")
    token = new_token("ldk_")
    api_token = ApiToken(
        name=name.strip() or "token",
        token_hash=token_digest(token),
        prefix=token[:8],
        agent_id=agent.id if agent else None,
        customer_id=customer_id,
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    uow.session.add(api_token)
    await uow.session.flush()
    do_record_audit(
        uow,
        agent_id=actor.agent_id if actor else None,
        action="token.created",
        object_type="api_token",
        object_id=api_token.id,
        detail={"scopes": api_token.scopes, "customer_id": customer_id},
    )
    return token, api_token


async def do_revoke_api_token(uow: UnitOfWork, *, actor: Principal, token_id: int) -> None:
    acting = actor.require_agent()
    api_token = await uow.session.get(ApiToken, token_id)
    if api_token is None:
        raise NotFound(f"token {token_id} not found")
    if api_token.agent_id != acting.id:
        actor.require_admin()
    api_token.revoked_at = datetime.now(UTC)
    uow.emit(ACCOUNTS_CHANGED)
    do_record_audit(
        uow,
        agent_id=acting.id,
        action="token.revoked",
        object_type="api_token",
        object_id=token_id,
    )


async def do_touch_token(uow: UnitOfWork, token_id: int) -> None:
    await uow.session.execute(
        update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=datetime.now(UTC))
    )
