//! The "your recording is ready" e-mail (recordings §7.2, B9, B10), our own wording in English,
//! French, Dutch and German, rendered per recipient: their language (fallback
//! `DJANGO_LANGUAGE_CODE`, then English) and their time zone for the date and time. The text
//! part is not HTML-escaped; the HTML part is. Lines whose setting is unset are left out, and the
//! link only appears when `SCREEN_RECORDING_BASE_URL` is set (S1).

use chrono::{DateTime, Utc};

use super::Rendered;

/// The values of one message.
#[derive(Clone, Debug)]
pub struct Vars<'a> {
    pub brand_name: Option<&'a str>,
    pub support_email: Option<&'a str>,
    pub logo_img: Option<&'a str>,
    pub room_name: &'a str,
    pub created_at: DateTime<Utc>,
    /// The recipient's IANA time zone (`UTC` when unknown).
    pub timezone: &'a str,
    /// The recipient's language (`fr-fr`, `de`, …).
    pub language: &'a str,
    /// The site's default language (`DJANGO_LANGUAGE_CODE`).
    pub default_language: &'a str,
    pub link: Option<String>,
    /// `RECORDING_EXPIRATION_DAYS`: adds the expiry sentence.
    pub expiration_days: Option<u64>,
}

/// The languages this e-mail is written in: the API's.
pub use crate::i18n::Lang;

/// The recipient's language, else the site's, else English (Django's matching of a language
/// code to `LANGUAGES`).
pub fn pick(user: &str, default: &str) -> Lang {
    crate::i18n::supported_variant(user).or_else(|| crate::i18n::supported_variant(default)).unwrap_or(Lang::En)
}

struct Texts {
    /// Upstream's subject translations, first letter upper-cased only.
    subject: &'static str,
    /// Upstream's heading translations.
    heading: &'static str,
    /// `{room}`, `{date}`, `{time}`.
    ready: &'static str,
    /// Upstream's expiry sentence translations, `{days}`.
    expires: &'static str,
    sharing: &'static str,
    keep: &'static str,
    steps: [&'static str; 3],
    open: &'static str,
    /// `{support}`.
    questions: &'static str,
    /// `{brand}`.
    thanks: &'static str,
    thanks_plain: &'static str,
}

fn texts(lang: Lang) -> Texts {
    match lang {
        Lang::En => Texts {
            subject: "Your recording is ready",
            heading: "Your recording is ready!",
            ready: "The recording of the meeting \"{room}\" made on {date} at {time} is now available to download.",
            expires: "The recording will expire in {days} days.",
            sharing: "The recording cannot be shared by link yet: only its organizers can download it.",
            keep: "To keep a copy:",
            steps: [
                "Open the recording with the Open link.",
                "Use the download button of the page.",
                "Store the file somewhere safe.",
            ],
            open: "Open",
            questions: "Questions? Write to us at {support}.",
            thanks: "Thank you for using {brand}.",
            thanks_plain: "Thank you.",
        },
        Lang::Fr => Texts {
            subject: "Votre enregistrement est prêt",
            heading: "Votre enregistrement est prêt !",
            ready: "L'enregistrement de la réunion « {room} » du {date} à {time} peut maintenant être téléchargé.",
            expires: "L'enregistrement expirera dans {days} jours.",
            sharing: "L'enregistrement ne peut pas encore être partagé par lien : seuls ses organisateurs peuvent le télécharger.",
            keep: "Pour en garder une copie :",
            steps: [
                "Ouvrez l'enregistrement avec le lien Ouvrir.",
                "Utilisez le bouton de téléchargement de la page.",
                "Rangez le fichier en lieu sûr.",
            ],
            open: "Ouvrir",
            questions: "Une question ? Écrivez-nous à {support}.",
            thanks: "Merci d'utiliser {brand}.",
            thanks_plain: "Merci.",
        },
        Lang::Nl => Texts {
            subject: "Je opname is klaar",
            heading: "Je opname is klaar!",
            ready: "De opname van de vergadering \"{room}\" van {date} om {time} kan nu worden gedownload.",
            expires: "De opname verloopt over {days} dagen.",
            sharing: "De opname kan nog niet via een link worden gedeeld: alleen de organisatoren kunnen hem downloaden.",
            keep: "Zo bewaar je een kopie:",
            steps: [
                "Open de opname met de link Openen.",
                "Gebruik de downloadknop op de pagina.",
                "Bewaar het bestand op een veilige plek.",
            ],
            open: "Openen",
            questions: "Vragen? Schrijf ons via {support}.",
            thanks: "Bedankt voor het gebruik van {brand}.",
            thanks_plain: "Bedankt.",
        },
        Lang::De => Texts {
            subject: "Ihre Aufzeichnung ist bereit",
            heading: "Ihre Aufzeichnung ist fertig!",
            ready: "Die Aufzeichnung der Besprechung „{room}“ vom {date} um {time} steht jetzt zum Herunterladen bereit.",
            expires: "Die Aufzeichnung wird in {days} Tagen ablaufen.",
            sharing: "Die Aufzeichnung kann noch nicht per Link geteilt werden: nur die Organisatoren können sie herunterladen.",
            keep: "So bewahren Sie eine Kopie auf:",
            steps: [
                "Öffnen Sie die Aufzeichnung über den Link Öffnen.",
                "Nutzen Sie die Download-Schaltfläche der Seite.",
                "Speichern Sie die Datei an einem sicheren Ort.",
            ],
            open: "Öffnen",
            questions: "Fragen? Schreiben Sie uns an {support}.",
            thanks: "Danke, dass Sie {brand} nutzen.",
            thanks_plain: "Vielen Dank.",
        },
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// Date (`%Y-%m-%d`) and time (`%H:%M`) of `at` in `timezone` (UTC when the zone is unknown),
/// as upstream HEAD writes them (now-recordings §12.3).
pub fn date_time(at: DateTime<Utc>, timezone: &str, _lang: Lang) -> (String, String) {
    let tz: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    let local = at.with_timezone(&tz);
    (local.format("%Y-%m-%d").to_string(), local.format("%H:%M").to_string())
}

/// Renders the message for one recipient.
pub fn render(v: &Vars<'_>) -> Rendered {
    let lang = pick(v.language, v.default_language);
    let t = texts(lang);
    let (date, time) = date_time(v.created_at, v.timezone, lang);
    let ready = |room: &str, date: &str, time: &str| {
        t.ready.replace("{room}", room).replace("{date}", date).replace("{time}", time)
    };

    let mut first = ready(v.room_name, &date, &time);
    if let Some(days) = v.expiration_days.filter(|d| *d > 0) {
        first = format!("{first} {}", t.expires.replace("{days}", &days.to_string()));
    }
    let mut text = vec![t.heading.to_string(), String::new(), first.clone(), String::new(), t.sharing.to_string()];
    text.push(String::new());
    if let Some(link) = &v.link {
        text.push(t.keep.to_string());
        for (i, s) in t.steps.iter().enumerate() {
            text.push(format!("{}. {s}", i + 1));
        }
        text.push(String::new());
        text.push(format!("{}: {link}", t.open));
        text.push(String::new());
    }
    if let Some(support) = v.support_email {
        text.push(t.questions.replace("{support}", support));
    }
    text.push(match v.brand_name {
        Some(b) => t.thanks.replace("{brand}", b),
        None => t.thanks_plain.to_string(),
    });

    let mut html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:sans-serif;color:#222\">",
        lang.code(),
        escape(t.subject)
    );
    if let Some(logo) = v.logo_img {
        html.push_str(&format!("<p><img src=\"{}\" alt=\"Logo email\" width=\"160\"></p>", escape(logo)));
    }
    html.push_str(&format!("<h1>{}</h1>", escape(t.heading)));
    let mut first_html = ready(&escape(v.room_name), &escape(&date), &escape(&time));
    if let Some(days) = v.expiration_days.filter(|d| *d > 0) {
        first_html = format!("{first_html} {}", escape(&t.expires.replace("{days}", &days.to_string())));
    }
    html.push_str(&format!("<p>{first_html}</p><p>{}</p>", escape(t.sharing)));
    if let Some(link) = &v.link {
        html.push_str(&format!("<p>{}</p><ol>", escape(t.keep)));
        for s in t.steps {
            html.push_str(&format!("<li>{}</li>", escape(s)));
        }
        html.push_str(&format!(
            "</ol><p><a href=\"{}\" style=\"display:inline-block;padding:10px 20px;background:#000091;color:#fff;\
             text-decoration:none;border-radius:4px\">{}</a></p>",
            escape(link),
            escape(t.open)
        ));
    }
    if let Some(support) = v.support_email {
        let a = format!("<a href=\"mailto:{0}\">{0}</a>", escape(support));
        html.push_str(&format!("<p>{}</p>", escape(t.questions).replace("{support}", &a)));
    }
    let thanks = match v.brand_name {
        Some(b) => escape(t.thanks).replace("{brand}", &escape(b)),
        None => escape(t.thanks_plain),
    };
    html.push_str(&format!("<p>{thanks}</p></body></html>"));

    Rendered { subject: t.subject.to_string(), text: text.join("\n"), html }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn vars<'a>(language: &'a str, timezone: &'a str) -> Vars<'a> {
        Vars {
            brand_name: Some("La Suite"),
            support_email: Some("help@example.org"),
            logo_img: None,
            room_name: "Tom & \"Jerry\" <x>",
            created_at: Utc.with_ymd_and_hms(2025, 4, 14, 12, 34, 56).unwrap(),
            timezone,
            language,
            default_language: "en-us",
            link: Some("https://meet.example.org/recordings/abc".into()),
            expiration_days: None,
        }
    }

    #[test]
    fn nrc_not_1_dates_are_iso_in_the_recipient_zone() {
        let at = Utc.with_ymd_and_hms(2023, 5, 15, 14, 30, 0).unwrap();
        assert_eq!(date_time(at, "Europe/Paris", Lang::Fr), ("2023-05-15".into(), "16:30".into()));
        assert_eq!(date_time(at, "America/Phoenix", Lang::En), ("2023-05-15".into(), "07:30".into()));
        assert_eq!(date_time(at, "Not/AZone", Lang::En).1, "14:30");
    }

    #[test]
    fn rn_9_b10_text_is_not_escaped_html_is() {
        let r = render(&vars("en-us", "UTC"));
        assert!(r.text.contains("Tom & \"Jerry\" <x>"), "{}", r.text);
        assert!(r.html.contains("Tom &amp; &quot;Jerry&quot; &lt;x&gt;"));
        assert!(r.text.contains("2025-04-14") && r.text.contains("12:34"));
        assert!(r.html.contains("<title>Your recording is ready</title>"));
    }

    #[test]
    fn nrc_not_1_nrc_not_5_subjects_headings_and_expiry() {
        let mut v = vars("fr-fr", "Europe/Paris");
        let fr = render(&v);
        assert_eq!(fr.subject, "Votre enregistrement est prêt");
        assert!(fr.text.starts_with("Votre enregistrement est prêt !"), "{}", fr.text);
        assert!(!fr.text.contains("expirera"));
        v.expiration_days = Some(7);
        assert!(render(&v).text.contains("L'enregistrement expirera dans 7 jours."));
        assert_eq!(render(&vars("de-de", "UTC")).subject, "Ihre Aufzeichnung ist bereit", "R-14");
        assert_eq!(render(&vars("nl-nl", "UTC")).subject, "Je opname is klaar");
        let unknown = render(&vars("xx", "Not/AZone"));
        assert_eq!(unknown.subject, "Your recording is ready");
        assert!(unknown.text.contains("12:34"));
    }

    #[test]
    fn s1_b10_unset_settings_leave_their_lines_out() {
        let mut v = vars("en", "UTC");
        v.link = None;
        v.brand_name = None;
        v.support_email = None;
        let r = render(&v);
        assert!(!r.text.contains("None") && !r.html.contains("None"));
        assert!(!r.html.contains("<a "));
        assert!(r.text.ends_with("Thank you."));
    }
}
