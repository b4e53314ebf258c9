//! A real SMTP receiver on 127.0.0.1:0 (no extra crates): it speaks enough ESMTP for lettre
//! (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps every message, and can be told to be down
//! (it then greets with `421` and closes, like a server refusing service).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One message received.
#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Default)]
struct Inner {
    mails: Vec<Mail>,
    down: bool,
}

#[derive(Clone)]
pub struct SmtpDouble {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl SmtpDouble {
    pub async fn start() -> SmtpDouble {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = inner.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = session(socket, state).await;
                });
            }
        });
        SmtpDouble { addr, inner }
    }

    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DJANGO_EMAIL_HOST", "127.0.0.1".into()),
            ("DJANGO_EMAIL_PORT", self.addr.port().to_string()),
            ("DJANGO_EMAIL_FROM", "meet@example.org".into()),
        ]
    }

    pub fn set_down(&self, down: bool) {
        self.inner.lock().unwrap().down = down;
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.inner.lock().unwrap().mails.clone()
    }

    /// Waits (bounded) until `n` messages arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        for _ in 0..150 {
            let m = self.mails();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.mails()
    }
}

async fn session(socket: tokio::net::TcpStream, state: Arc<Mutex<Inner>>) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    if state.lock().unwrap().down {
        write.write_all(b"421 double: service not available\r\n").await?;
        return Ok(());
    }
    write.write_all(b"220 double ESMTP\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            write.write_all(b"250-double\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = addr_of(&cmd[10..]);
            to.clear();
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(addr_of(&cmd[8..]));
            write.write_all(b"250 OK\r\n").await?;
        } else if upper == "DATA" {
            write.write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let l = line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line);
                data.push_str(l);
            }
            state.lock().unwrap().mails.push(Mail { from: from.clone(), to: to.clone(), data });
            write.write_all(b"250 OK queued\r\n").await?;
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            write.write_all(b"250 OK\r\n").await?;
        } else {
            write.write_all(b"502 not implemented\r\n").await?;
        }
    }
}

fn addr_of(s: &str) -> String {
    s.trim().trim_start_matches('<').split('>').next().unwrap_or("").to_string()
}

fn decode_qp(s: &str) -> String {
    let bytes = s.replace("=\r\n", "").replace("=\n", "").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() + 1 {
            if let Ok(b) =
                u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..(i + 3).min(bytes.len())]).unwrap_or(""), 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Mail {
    /// The value of header `name` in the top-level headers (unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The subject, RFC 2047 words decoded (whitespace between two encoded words dropped).
    pub fn subject(&self) -> String {
        let raw = self.header("Subject").unwrap_or_default();
        let mut out = String::new();
        let mut previous_encoded = false;
        for w in raw.split(' ').filter(|w| !w.is_empty()) {
            let lower = w.to_ascii_lowercase();
            let decoded = if lower.starts_with("=?utf-8?b?") && w.ends_with("?=") {
                let b = base64::engine::general_purpose::STANDARD.decode(&w[10..w.len() - 2]).unwrap_or_default();
                Some(String::from_utf8_lossy(&b).into_owned())
            } else if lower.starts_with("=?utf-8?q?") && w.ends_with("?=") {
                Some(decode_qp(&w[10..w.len() - 2].replace('_', " ")))
            } else {
                None
            };
            let encoded = decoded.is_some();
            if !(out.is_empty() || encoded && previous_encoded) {
                out.push(' ');
            }
            out.push_str(&decoded.unwrap_or_else(|| w.to_string()));
            previous_encoded = encoded;
        }
        out
    }

    /// The decoded body of the first part of `content_type` (`text/plain`, `text/html`).
    pub fn part(&self, content_type: &str) -> Option<String> {
        for chunk in self.data.split("\r\n--") {
            let Some((head, body)) = chunk.split_once("\r\n\r\n") else { continue };
            let head_l = head.to_ascii_lowercase();
            if !head_l.contains(&format!("content-type: {content_type}")) {
                continue;
            }
            let body = body.trim_end_matches("\r\n");
            return Some(if head_l.contains("content-transfer-encoding: base64") {
                let joined: String = body.lines().collect();
                String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(joined).unwrap_or_default())
                    .into_owned()
            } else if head_l.contains("content-transfer-encoding: quoted-printable") {
                decode_qp(body)
            } else {
                body.to_string()
            });
        }
        None
    }

    pub fn text(&self) -> String {
        self.part("text/plain").unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.part("text/html").unwrap_or_default()
    }
}
