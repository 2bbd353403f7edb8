"""The widget's words in English and Simplified Chinese. Pure data, no I/O.

The widget picks the language from ``navigator.language`` (zh* → Chinese) and
sends it with the session request; the server answers with the texts below, so the
translations live in one place and are tested here. The widget itself carries
only the few words it shows before the session answers (connecting, reconnecting).
"""

from __future__ import annotations

LANGUAGES = ("en", "zh-Hans")
MAX_MESSAGE_CHARS = 5000  # the widget's own limit; the server's stays at 50,000

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Chat with us",
        "open": "Open chat",
        "close": "Close chat",
        "placeholder": "Write a message…",
        "send": "Send",
        "attach": "Attach an image or PDF",
        "connecting": "Connecting…",
        "reconnecting": "Reconnecting…",
        "sending": "Sending…",
        "sent": "Sent",
        "delivered": "Delivered",
        "retrying": "Not sent yet, trying again in {seconds} s",
        "refused": "Not sent: {reason}",
        "typing": "Support is typing…",
        "support": "Support",
        "greeting": "Hi! How can we help you today?",
        "offline": (
            "No one is online right now. Leave your email address and we will reply by email."
        ),
        "email_placeholder": "you@example.com",
        "email_save": "Save",
        "email_saved": "Thanks, we will reply to {email}.",
        "too_long": "A message can have at most {max} characters.",
        "file_type": "Only images (PNG, JPEG, GIF, WebP) and PDF files can be sent.",
        "file_size": "A file can be at most {mb} MB.",
        "upload_failed": "The file could not be sent: {reason}",
        "closed": "This conversation is closed. Write to start a new one.",
        "verified": "Verified",
        "verified_hint": (
            "Signed by our support team. Click to copy it with its signature and check it at"
        ),
        # The assistant (channels/webchat/assistant.py).
        "assistant": "Assistant",
        "sources": "Articles:",
        "helped": "This helped",
        "human": "Talk to a person",
        "thanks": "Glad it helped!",
        # The satisfaction survey card (feedback/).
        "survey_ask": "How would you rate the help you got? (1 = poor, 5 = great)",
        "survey_comment": "Anything to add? (optional)",
        "survey_send": "Send rating",
        "survey_thanks": "Thank you for your feedback!",
    },
    "zh-Hans": {
        "title": "在线客服",
        "open": "打开聊天",
        "close": "关闭聊天",
        "placeholder": "输入消息…",
        "send": "发送",
        "attach": "添加图片或 PDF",
        "connecting": "正在连接…",
        "reconnecting": "正在重新连接…",
        "sending": "发送中…",
        "sent": "已发送",
        "delivered": "已送达",
        "retrying": "暂未发送，{seconds} 秒后重试",
        "refused": "未发送：{reason}",
        "typing": "客服正在输入…",
        "support": "客服",
        "greeting": "您好！请问有什么可以帮您？",
        "offline": "客服暂时不在线。请留下您的邮箱地址，我们会通过邮件回复您。",
        "email_placeholder": "you@example.com",
        "email_save": "保存",
        "email_saved": "谢谢，我们会回复到 {email}。",
        "too_long": "每条消息最多 {max} 个字符。",
        "file_type": "只能发送图片（PNG、JPEG、GIF、WebP）和 PDF 文件。",
        "file_size": "文件最大 {mb} MB。",
        "upload_failed": "文件未能发送：{reason}",
        "closed": "此会话已关闭。发送消息即可开始新的会话。",
        "verified": "已验证",
        "verified_hint": "由我们的客服签名。点击复制此消息及其签名，并在此页面核验：",
        "assistant": "智能助手",
        "sources": "相关文章：",
        "helped": "问题已解决",
        "human": "转人工客服",
        "thanks": "很高兴能帮到您！",
        "survey_ask": "您对本次服务满意吗？（1 = 很差，5 = 很好）",
        "survey_comment": "还有什么想告诉我们的吗？（选填）",
        "survey_send": "提交评分",
        "survey_thanks": "感谢您的反馈！",
    },
}

# What the system writes into a conversation (read by agents and the visitor).
EMAIL_RECORDED = {
    "en": (
        "No agent was online. The visitor left the email address {email}: "
        "replies to this conversation go by email."
    ),
    "zh-Hans": "当时没有客服在线。访客留下了邮箱 {email}：此会话的回复将通过邮件发送。",
}

# What the assistant says when it passes the conversation to a person for a reason of
# its own (a risk in the conversation, the customer's button); the assistant's own
# hand-off answers (assistant/answer.py) carry their own words.
ASSISTANT_HANDOFF = {
    "en": "I'm passing you to a colleague, who will reply here as soon as possible.",
    "zh-Hans": "我将为您转接人工客服，客服会尽快在这里回复您。",
}


def choose_language(tag: str | None) -> str:
    """``zh``, ``zh-CN``, ``zh-Hans-SG``... → ``zh-Hans``; everything else → ``en``."""
    if tag and tag.strip().lower().startswith("zh"):
        return "zh-Hans"
    return "en"


def texts_for(language: str) -> dict[str, str]:
    return dict(TEXTS[choose_language(language)])


def greeting_for(greetings: dict[str, str], language: str) -> str:
    """The inbox's greeting in this language, else in English, else the default text."""
    chosen = choose_language(language)
    return greetings.get(chosen) or greetings.get("en") or TEXTS[chosen]["greeting"]
