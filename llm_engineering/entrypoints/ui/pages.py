"""The web UI's pages: chat (`/`), authors and links (`/authors`), models (`/models`), rendered with Jinja2
(autoescaped) and driven by small vanilla scripts from `static/` (no CDN, no build step). Every page is
sent with a Content-Security-Policy that allows only this origin's scripts, so even text that slipped
through unescaped could not run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from llm_engineering.settings import Settings

if TYPE_CHECKING:
    from llm_engineering.application.llm.client import GenerationParameters

UI_DIR = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=str(UI_DIR / "templates"))
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def pages_router(settings: Settings, defaults: GenerationParameters) -> APIRouter:
    """The HTML pages; `settings` say whether writes need a token, `defaults` fill the chat form."""
    router = APIRouter(include_in_schema=False)

    def render(request: Request, template: str, page: str, title: str, **context: Any) -> HTMLResponse:
        response = TEMPLATES.TemplateResponse(
            request,
            template,
            {
                "page": page,
                "title": title,
                "token_required": settings.API_UI_TOKEN is not None,
                **context,
            },
        )
        response.headers.update(PAGE_HEADERS)
        return response

    @router.get("/", response_class=HTMLResponse)
    async def chat(request: Request) -> HTMLResponse:
        return render(
            request,
            "chat.html",
            "chat",
            "Chat",
            max_query_chars=settings.RAG_MAX_QUERY_CHARS,
            defaults={
                "k": settings.RAG_TOP_K,
                "temperature": defaults.temperature,
                "max_new_tokens": defaults.max_new_tokens,
            },
        )

    @router.get("/authors", response_class=HTMLResponse)
    async def authors(request: Request) -> HTMLResponse:
        return render(request, "authors.html", "authors", "Authors and links")

    @router.get("/models", response_class=HTMLResponse)
    async def models(request: Request) -> HTMLResponse:
        return render(request, "models.html", "models", "Models")

    return router


def mount_pages(app: FastAPI, settings: Settings, defaults: GenerationParameters) -> None:
    """Serve the pages (the chat form filled with `defaults`) and their static files on `app`."""
    app.mount("/ui/static", StaticFiles(directory=str(UI_DIR / "static")), name="ui-static")
    app.include_router(pages_router(settings, defaults))
