//! Outgoing e-mail over SMTP with `lettre` (Django's `DJANGO_EMAIL_*` settings): STARTTLS for
//! `DJANGO_EMAIL_USE_TLS`, implicit TLS for `DJANGO_EMAIL_USE_SSL`, plain SMTP otherwise; every
//! conversation bounded by `MEET_EMAIL_TIMEOUT`. Messages are `multipart/alternative`, text first.

pub mod invitation;
pub mod recording_ready;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::recording::EmailConfig;

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("DJANGO_EMAIL_HOST is not set")]
    NotConfigured,
    #[error("invalid address {0}")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
}

/// A rendered message for one recipient.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The SMTP sender.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: String,
    timeout: std::time::Duration,
}

impl Mailer {
    pub fn new(config: &EmailConfig) -> Mailer {
        let transport = config.host.as_deref().and_then(|host| {
            let builder = if config.use_ssl {
                AsyncSmtpTransport::<Tokio1Executor>::relay(host)
            } else if config.use_tls {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            } else {
                Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host))
            };
            let mut builder = match builder {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "DJANGO_EMAIL_HOST cannot be used: e-mails are disabled");
                    return None;
                }
            };
            let default_port = if config.use_ssl {
                465
            } else if config.use_tls {
                587
            } else {
                25
            };
            builder = builder.port(config.port.unwrap_or(default_port)).timeout(Some(config.timeout));
            if let Some(user) = &config.user {
                builder =
                    builder.credentials(Credentials::new(user.clone(), config.password.clone().unwrap_or_default()));
            }
            Some(builder.build())
        });
        Mailer { transport, from: config.from.clone(), timeout: config.timeout }
    }

    pub fn is_configured(&self) -> bool {
        self.transport.is_some()
    }

    /// Sends one message to every address of `bcc`, all in `Bcc` and none in `To`, so that no
    /// recipient learns the others (now-rooms §8.2; the `Bcc` header itself is not written).
    pub async fn send_bcc(&self, bcc: &[String], message: &Rendered) -> Result<(), MailError> {
        let mut recipients = Vec::with_capacity(bcc.len());
        for (i, address) in bcc.iter().enumerate() {
            recipients.push(address.parse().map_err(|_| MailError::Address(format!("of recipient #{i}")))?);
        }
        self.deliver(|b, m| b.bcc(m), recipients, message).await
    }

    /// Sends one message to one recipient.
    pub async fn send(&self, to: &str, message: &Rendered) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::Address("of the recipient".into()))?;
        self.deliver(|b, m| b.to(m), vec![to], message).await
    }

    /// Builds the message from `DJANGO_EMAIL_FROM` to `recipients` (each added with `add`) and
    /// sends it, bounded in time.
    async fn deliver(
        &self,
        add: impl Fn(lettre::message::MessageBuilder, Mailbox) -> lettre::message::MessageBuilder,
        recipients: Vec<Mailbox>,
        message: &Rendered,
    ) -> Result<(), MailError> {
        let transport = self.transport.as_ref().ok_or(MailError::NotConfigured)?;
        let from: Mailbox = self.from.parse().map_err(|_| MailError::Address("DJANGO_EMAIL_FROM".into()))?;
        let mut builder = Message::builder().from(from).subject(message.subject.clone());
        for mailbox in recipients {
            builder = add(builder, mailbox);
        }
        let email = builder
            .multipart(MultiPart::alternative_plain_html(message.text.clone(), message.html.clone()))
            .map_err(|e| MailError::Build(e.to_string()))?;
        // lettre's own timeout covers each socket operation; this one bounds the conversation.
        let send = async {
            tokio::time::timeout(self.timeout * 3, transport.send(email))
                .await
                .map_err(|_| MailError::Smtp("timed out".into()))?
                .map_err(|e| MailError::Smtp(e.to_string()))
        };
        crate::metrics::call("smtp", "send", send).await?;
        Ok(())
    }
}
