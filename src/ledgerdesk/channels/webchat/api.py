"""Routes of the web chat channel. Thin: check the origin and the limits, call, commit.

- ``/widget/v1/*``: what the widget calls from the host page (JSON, CORS);
- ``/widget.js`` and ``/demo/host``: the widget itself and the demo page embedding it;
- ``/api/v1/webchat/inboxes``: admins create and configure web chat inboxes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path as FilePath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Path, Request, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.types import Message

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.channels.webchat.actions import (
    do_create_webchat_inbox,
    do_leave_email,
    do_record_attachment,
    do_rotate_identity_secret,
    do_start_widget_session,
    do_update_webchat_inbox,
    has_email,
)
from ledgerdesk.channels.webchat.assistant import (
    do_assistant_feedback,
    do_set_assistant_first,
    widget_turns,
)
from ledgerdesk.channels.webchat.cors import PREFIX, WidgetCorsMiddleware, record_verdict
from ledgerdesk.channels.webchat.demo import DEMO_WIDGET_KEY
from ledgerdesk.channels.webchat.filetypes import ALLOWED_TYPES, clean_filename, sniff
from ledgerdesk.channels.webchat.origins import origin_allowed
from ledgerdesk.channels.webchat.queries import (
    access_attachment,
    access_webchat_inbox,
    agents_online,
    inbox_by_widget_key,
    inbox_of_token,
    visitor_snapshot,
)
from ledgerdesk.channels.webchat.schemas import (
    AttachmentOut,
    EmailOut,
    EmailRequest,
    FeedbackOut,
    FeedbackRequest,
    IdentitySecretOut,
    SessionOut,
    SessionRequest,
    WebchatInboxCreate,
    WebchatInboxOut,
    WebchatInboxUpdate,
)
from ledgerdesk.channels.webchat.texts import MAX_MESSAGE_CHARS, greeting_for, texts_for
from ledgerdesk.conversations.models import Inbox
from ledgerdesk.conversations.queries import access_conversation
from ledgerdesk.errors import InvalidInput, LedgerdeskError, NotFound, PermissionDenied
from ledgerdesk.feedback.actions import do_answer_survey, survey_stream_data
from ledgerdesk.feedback.queries import access_customer_survey, open_surveys_of_customer
from ledgerdesk.feedback.schemas import SurveyOut, WidgetSurveyAnswerIn
from ledgerdesk.realtime.queries import stream_head
from ledgerdesk.server.deps import (
    Actor,
    ReadSession,
    State,
    Uow,
    client_ip,
    resolve_principal,
    unit_of_work,
)
from ledgerdesk.server.state import AppState
from ledgerdesk.server.types import PathId

STATIC_DIR = FilePath(__file__).parent / "static"
# Room for the multipart envelope (boundaries, part headers, a small field or two).
FORM_OVERHEAD = 64 * 1024

widget_router = APIRouter(prefix="/widget/v1", tags=["web chat widget"])
admin_router = APIRouter(prefix="/webchat/inboxes", tags=["web chat inboxes"])


class TooLarge(LedgerdeskError):
    status_code = 413
    code = "too_large"


class UnsupportedType(LedgerdeskError):
    status_code = 415
    code = "unsupported_media_type"


def wants_json(request: Request) -> bool:
    """The widget's endpoints answer errors in JSON, never with a console HTML page."""
    return request.url.path.startswith(PREFIX)


# The widget's endpoints ---------------------------------------------------------


def _refuse_origin(origin: str | None) -> PermissionDenied:
    return PermissionDenied(
        f"this chat cannot be used on {origin or 'this page'}: the site is not among the "
        "inbox's allowed origins (an admin adds it in the inbox settings)"
    )


async def _principal(request: Request, state: AppState) -> Principal:
    async with state.db.sessionmaker() as session:
        return await resolve_principal(request, session, state)


async def _check_token_origin(
    request: Request, session: AsyncSession, principal: Principal
) -> None:
    """A visitor's token works only on the sites its inbox allows (agents are not bound)."""
    if principal.customer_id is None:
        return
    origin = request.headers.get("origin")
    binding = await inbox_of_token(session, principal.token_id)
    if binding is None:
        # A customer token made through the API, not by a widget: for servers, not pages.
        allowed = origin is None
    else:
        inbox = await session.get(Inbox, binding.inbox_id)
        allowed = inbox is not None and origin_allowed(origin, inbox.allowed_origins)
    record_verdict(request.scope, allowed)
    if not allowed:
        raise _refuse_origin(origin)


def _visitor_key(payload: SessionRequest, inbox: Inbox) -> str | None:
    if payload.user_id is not None:
        return f"user:{inbox.id}:{payload.user_id}"
    if payload.visitor_token is not None:
        return "token:" + hashlib.sha256(payload.visitor_token.encode()).hexdigest()[:32]
    return None


@widget_router.post("/session", response_model=SessionOut)
async def start_session(payload: SessionRequest, request: Request, state: State) -> SessionOut:
    """Start or resume a visitor's chat: a customer, their token, recent conversations."""
    origin = request.headers.get("origin")
    async with state.db.sessionmaker() as session:
        inbox = await inbox_by_widget_key(session, payload.inbox)
    allowed = origin_allowed(origin, inbox.allowed_origins)
    record_verdict(request.scope, allowed)
    if not allowed:
        raise _refuse_origin(origin)
    await state.webchat.sessions.check(_visitor_key(payload, inbox), client_ip(request))
    now = state.webchat.clock()
    async with unit_of_work(state) as uow:
        started = await do_start_widget_session(
            uow,
            box=state.box,
            inbox=inbox,
            visitor_token=payload.visitor_token,
            user_id=payload.user_id,
            user_hash=payload.user_hash,
            name=payload.name,
            email=payload.email,
            language=payload.language,
            token_lifetime=timedelta(days=state.settings.widget_token_days),
            now=now,
        )
        email_known = await has_email(uow, started.customer)
        await uow.commit()
    async with state.db.sessionmaker() as session:
        # The stream head is read before the snapshot: a resume from it misses nothing
        # (an event both in the snapshot and after the head shows up twice; the widget
        # knows messages by id).
        head = await stream_head(session)
        conversations = await visitor_snapshot(session, started.customer.id)
        online = await agents_online(session, inbox, now)
        turns = await widget_turns(session, conversations)
        surveys = await open_surveys_of_customer(
            session, started.customer.id, [c["id"] for c in conversations]
        )
    return SessionOut(
        token=started.token,
        customer_id=started.customer.id,
        verified_user=started.verified_user,
        language=started.language,
        conversations=conversations,
        last_event_id=head,
        agents_online=online,
        has_email=email_known,
        greeting=greeting_for(inbox.greetings, started.language),
        texts=texts_for(started.language),
        limits={
            "max_message_chars": MAX_MESSAGE_CHARS,
            "max_upload_bytes": state.settings.widget_max_upload_bytes,
            "upload_types": list(ALLOWED_TYPES),
        },
        assistant_turns=turns,
        surveys=[survey_stream_data(survey) for survey in surveys],
    )


def _bounded(
    receive: Callable[[], Awaitable[Message]], limit: int, what: str
) -> Callable[[], Awaitable[Message]]:
    """A receive that refuses a body larger than ``limit`` while it streams in."""
    seen = 0

    async def bounded_receive() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise TooLarge(what)
        return message

    return bounded_receive


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.3g} MiB"
    return f"{size / 1024:.3g} KiB"


@widget_router.post("/attachments", status_code=status.HTTP_201_CREATED)
async def upload_attachment(request: Request, state: State) -> AttachmentOut:
    """A visitor's image or PDF (multipart, field ``file``); the type comes from its bytes."""
    principal = await _principal(request, state)
    if principal.customer_id is None:
        raise PermissionDenied("uploads here are for a visitor's token; agents attach elsewhere")
    principal.require_scope("conversations:write")
    async with state.db.sessionmaker() as session:
        await _check_token_origin(request, session, principal)
    await state.webchat.uploads.check(f"customer:{principal.customer_id}", client_ip(request))
    limit = state.settings.widget_max_upload_bytes
    too_large = f"the file is larger than {_size(limit)}; send a smaller one"
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise TooLarge(too_large)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UnsupportedType("send the file as multipart/form-data, in a field named 'file'")
    bounded = Request(request.scope, _bounded(request.receive, limit + FORM_OVERHEAD, too_large))
    form = await bounded.form(max_files=1, max_fields=5)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("send the file in a form field named 'file'")
        data = await upload.read(limit + 1)
        filename = upload.filename
    finally:
        await form.close()
    if len(data) > limit:
        raise TooLarge(too_large)
    if not data:
        raise InvalidInput("the file is empty")
    content_type = sniff(data[:16])
    if content_type is None:
        raise UnsupportedType(
            "only images (PNG, JPEG, GIF, WebP) and PDF files can be sent; this file's "
            "content is none of these, whatever its name says"
        )
    name = clean_filename(filename, content_type)
    sha256 = await state.webchat.store.put(data)
    async with unit_of_work(state) as uow:
        await do_record_attachment(
            uow,
            customer_id=principal.customer_id,
            sha256=sha256,
            filename=name,
            content_type=content_type,
            size=len(data),
        )
        await uow.commit()
    return AttachmentOut(
        filename=name,
        content_type=content_type,
        size=len(data),
        url=f"{PREFIX}attachments/{sha256}",
    )


def _content_disposition(kind: str, filename: str) -> str:
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


Sha256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="from the upload's url")]


@widget_router.get("/attachments/{sha256}")
async def download_attachment(sha256: Sha256, request: Request, state: State) -> Response:
    """The file, for the visitor who sent it or an agent (cookie or token)."""
    principal = await _principal(request, state)
    async with state.db.sessionmaker() as session:
        await _check_token_origin(request, session, principal)
        row = await access_attachment(session, principal, sha256)
    data = await state.webchat.store.get(sha256)
    if data is None:
        raise NotFound("this attachment's file is missing from the attachment store")
    kind = "inline" if row.content_type.startswith("image/") else "attachment"
    return Response(
        data,
        media_type=row.content_type,
        headers={
            "Content-Disposition": _content_disposition(kind, row.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=3600",
        },
    )


@widget_router.post("/email")
async def leave_email(payload: EmailRequest, request: Request, state: State) -> EmailOut:
    """Nobody is online: the visitor leaves an email address and the reply goes there."""
    principal = await _principal(request, state)
    async with state.db.sessionmaker() as session:
        await _check_token_origin(request, session, principal)
    await state.webchat.sends.check(f"customer:{principal.customer_id}", client_ip(request))
    async with unit_of_work(state) as uow:
        email, conversation = await do_leave_email(
            uow,
            principal=principal,
            email=payload.email,
            conversation_id=payload.conversation_id,
        )
        language = conversation.language if conversation is not None else None
        await uow.commit()
    return EmailOut(
        email=email,
        conversation_id=conversation.id if conversation is not None else None,
        message=texts_for(language or "en")["email_saved"].format(email=email),
    )


@widget_router.post("/assistant/feedback")
async def assistant_feedback(
    payload: FeedbackRequest, request: Request, state: State
) -> FeedbackOut:
    """The visitor says an answer of the assistant helped, or asks for a person."""
    principal = await _principal(request, state)
    async with state.db.sessionmaker() as session:
        await _check_token_origin(request, session, principal)
    if principal.customer_id is None:
        raise PermissionDenied("only a visitor's token may answer the assistant")
    await state.webchat.sends.check(f"customer:{principal.customer_id}", client_ip(request))
    async with unit_of_work(state) as uow:
        conversation = await access_conversation(
            uow.session, principal, payload.conversation_id, write=True
        )
        await do_assistant_feedback(
            uow,
            principal=principal,
            conversation=conversation,
            message_id=payload.message_id,
            verdict=payload.verdict,
        )
        out = FeedbackOut(
            conversation_id=conversation.id,
            message_id=payload.message_id,
            verdict=payload.verdict,
            assistant_state=conversation.assistant_state,
            status=conversation.status,
        )
        await uow.commit()
    return out


@widget_router.post("/survey")
async def answer_survey(payload: WidgetSurveyAnswerIn, request: Request, state: State) -> SurveyOut:
    """The visitor rates a solved conversation of their own (the survey card)."""
    principal = await _principal(request, state)
    async with state.db.sessionmaker() as session:
        await _check_token_origin(request, session, principal)
    if principal.customer_id is None:
        raise PermissionDenied("only a visitor's token may answer a survey here")
    await state.webchat.sends.check(f"customer:{principal.customer_id}", client_ip(request))
    async with unit_of_work(state) as uow:
        conversation = await access_conversation(
            uow.session, principal, payload.conversation_id, write=True
        )
        survey = await access_customer_survey(uow.session, conversation, write=True)
        await do_answer_survey(
            uow,
            survey=survey,
            conversation=conversation,
            rating=payload.rating,
            comment=payload.comment,
        )
        out = SurveyOut.of(survey, conversation.language)
        await uow.commit()
    return out


# The widget script and the demo page ---------------------------------------------


class _StaticFile:
    """A small file read once, with the ETag of its content."""

    def __init__(self, path: FilePath) -> None:
        self.body = path.read_bytes()
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'


def _serve(
    request: Request, static: _StaticFile, media_type: str, cache: str, extra: dict[str, str]
) -> Response:
    headers = {
        "Cache-Control": cache,
        "ETag": static.etag,
        "X-Content-Type-Options": "nosniff",
        **extra,
    }
    if request.headers.get("if-none-match") == static.etag:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(static.body, media_type=media_type, headers=headers)


def _pages() -> APIRouter:
    pages_router = APIRouter(include_in_schema=False)
    widget = _StaticFile(STATIC_DIR / "widget.js")
    host_page = _StaticFile(STATIC_DIR / "demo-host.html")

    @pages_router.get("/widget.js")
    async def widget_js(request: Request) -> Response:
        # Short public caching: a new release reaches visitors within minutes, and the
        # ETag makes the revalidation cheap.
        return _serve(
            request,
            widget,
            "text/javascript; charset=utf-8",
            "public, max-age=300",
            {"Cross-Origin-Resource-Policy": "cross-origin"},
        )

    @pages_router.get("/demo/host")
    async def demo_host(request: Request, state: State) -> Response:
        """A fictional exchange's page embedding the demo inbox's widget (`make run`)."""
        async with state.db.sessionmaker() as session:
            found = await session.execute(
                select(Inbox.id).where(Inbox.widget_key == DEMO_WIDGET_KEY)
            )
        if found.first() is None:
            raise NotFound("the demo web chat inbox does not exist; run `ledgerdesk demo` first")
        return _serve(request, host_page, "text/html; charset=utf-8", "no-cache", {})

    return pages_router


# Admin: web chat inboxes --------------------------------------------------------


@admin_router.post("", status_code=status.HTTP_201_CREATED)
async def create_webchat_inbox(
    payload: WebchatInboxCreate, actor: Actor, uow: Uow, state: State
) -> WebchatInboxOut:
    """A new web chat inbox with its widget key and identity secret (shown this once)."""
    inbox, secret = await do_create_webchat_inbox(
        uow,
        actor=actor,
        box=state.box,
        name=payload.name,
        default_team_id=payload.default_team_id,
        allowed_origins=payload.allowed_origins,
        greetings=payload.greetings,
    )
    if not payload.assistant_first:
        await do_set_assistant_first(uow, actor=actor, inbox=inbox, enabled=False)
    await uow.commit()
    return WebchatInboxOut.of(inbox, state.settings.public_url, identity_secret=secret)


@admin_router.get("/{inbox_id}")
async def get_webchat_inbox(
    inbox_id: PathId, actor: Actor, session: ReadSession, state: State
) -> WebchatInboxOut:
    inbox = await access_webchat_inbox(session, actor, inbox_id)
    return WebchatInboxOut.of(inbox, state.settings.public_url)


@admin_router.patch("/{inbox_id}")
async def update_webchat_inbox(
    inbox_id: PathId, payload: WebchatInboxUpdate, actor: Actor, uow: Uow, state: State
) -> WebchatInboxOut:
    inbox = await access_webchat_inbox(uow.session, actor, inbox_id)
    await do_update_webchat_inbox(
        uow,
        actor=actor,
        inbox=inbox,
        allowed_origins=payload.allowed_origins,
        greetings=payload.greetings,
    )
    if payload.assistant_first is not None:
        await do_set_assistant_first(uow, actor=actor, inbox=inbox, enabled=payload.assistant_first)
    await uow.commit()
    return WebchatInboxOut.of(inbox, state.settings.public_url)


@admin_router.post("/{inbox_id}/identity-secret")
async def rotate_identity_secret(
    inbox_id: PathId, actor: Actor, uow: Uow, state: State
) -> IdentitySecretOut:
    """Make a new identity secret and show it once; hashes made with the old one fail."""
    inbox = await access_webchat_inbox(uow.session, actor, inbox_id)
    secret = await do_rotate_identity_secret(uow, actor=actor, box=state.box, inbox=inbox)
    await uow.commit()
    return IdentitySecretOut(identity_secret=secret)


def install(app: FastAPI) -> None:
    """Add the channel's routes and its CORS middleware to the application."""
    app.add_middleware(WidgetCorsMiddleware)
    app.include_router(widget_router)
    app.include_router(admin_router, prefix="/api/v1")
    app.include_router(_pages())
