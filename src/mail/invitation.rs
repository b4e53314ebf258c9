//! The "join the call" invitation (now-rooms §8.2), our own wording in English, French, Dutch and
//! German, rendered in the language of the request that sends it. The subject is translated
//! before the sender is put in (B-INV-1); the title, the recipient and the sending site are
//! filled in (B-INV-3). One message goes to every recipient in `Bcc` (see [`super::Mailer::send_bcc`]).

use super::recording_ready::escape;
use super::Rendered;
use crate::i18n::Lang;

/// The values of the message.
#[derive(Clone, Debug)]
pub struct Vars<'a> {
    pub lang: Lang,
    /// The inviting user's e-mail (else their name; `None`: a neutral word is used).
    pub sender: Option<&'a str>,
    pub brand_name: Option<&'a str>,
    pub logo_img: Option<&'a str>,
    /// `<EMAIL_APP_BASE_URL>/<slug>`.
    pub room_url: &'a str,
    /// The link text: `<EMAIL_DOMAIN>/<slug>`.
    pub room_link: &'a str,
}

struct Texts {
    /// `{sender}`.
    subject: &'static str,
    /// `{sender}`.
    invites: &'static str,
    someone: &'static str,
    join: &'static str,
    copy: &'static str,
    tips_title: &'static str,
    tips: [&'static str; 3],
    /// `{brand}`.
    thanks: &'static str,
    thanks_plain: &'static str,
    /// `{site}`.
    footer: &'static str,
}

fn texts(lang: Lang) -> Texts {
    match lang {
        Lang::En => Texts {
            subject: "Video call in progress: {sender} is waiting for you to connect",
            invites: "{sender} invites you to join a video call that has already started.",
            someone: "Someone",
            join: "JOIN THE CALL",
            copy: "If the button does not work, paste this address into your browser to join the call:",
            tips_title: "For a better call:",
            tips: [
                "Chrome or Firefox give the best call quality.",
                "Check your microphone and camera before joining.",
                "A stable internet connection helps.",
            ],
            thanks: "Thank you for using {brand}.",
            thanks_plain: "Thank you.",
            footer: "This e-mail was sent to you by {site}.",
        },
        Lang::Fr => Texts {
            subject: "Appel vidéo en cours : {sender} vous attend",
            invites: "{sender} vous invite à rejoindre un appel vidéo déjà commencé.",
            someone: "Quelqu'un",
            join: "REJOINDRE L'APPEL",
            copy: "Si le bouton ne fonctionne pas, collez cette adresse dans votre navigateur pour rejoindre l'appel :",
            tips_title: "Pour un meilleur appel :",
            tips: [
                "Chrome ou Firefox offrent la meilleure qualité d'appel.",
                "Vérifiez votre micro et votre caméra avant de rejoindre.",
                "Une connexion internet stable aide.",
            ],
            thanks: "Merci d'utiliser {brand}.",
            thanks_plain: "Merci.",
            footer: "Ce message vous a été envoyé par {site}.",
        },
        Lang::Nl => Texts {
            subject: "Videogesprek bezig: {sender} wacht op je",
            invites: "{sender} nodigt je uit voor een videogesprek dat al begonnen is.",
            someone: "Iemand",
            join: "NEEM DEEL AAN HET GESPREK",
            copy: "Werkt de knop niet? Plak dit adres in je browser om deel te nemen:",
            tips_title: "Voor een beter gesprek:",
            tips: [
                "Chrome of Firefox geven de beste gesprekskwaliteit.",
                "Controleer je microfoon en camera voordat je deelneemt.",
                "Een stabiele internetverbinding helpt.",
            ],
            thanks: "Bedankt voor het gebruik van {brand}.",
            thanks_plain: "Bedankt.",
            footer: "Dit bericht is naar je verstuurd door {site}.",
        },
        Lang::De => Texts {
            subject: "Videoanruf läuft: {sender} wartet auf Sie",
            invites: "{sender} lädt Sie zu einem bereits begonnenen Videoanruf ein.",
            someone: "Jemand",
            join: "AM ANRUF TEILNEHMEN",
            copy: "Falls die Schaltfläche nicht funktioniert, fügen Sie diese Adresse in Ihren Browser ein:",
            tips_title: "Für einen besseren Anruf:",
            tips: [
                "Chrome oder Firefox bieten die beste Anrufqualität.",
                "Prüfen Sie Mikrofon und Kamera vor der Teilnahme.",
                "Eine stabile Internetverbindung hilft.",
            ],
            thanks: "Danke, dass Sie {brand} nutzen.",
            thanks_plain: "Vielen Dank.",
            footer: "Diese Nachricht wurde Ihnen von {site} gesendet.",
        },
    }
}

/// Renders the message.
pub fn render(v: &Vars<'_>) -> Rendered {
    let t = texts(v.lang);
    let sender = v.sender.filter(|s| !s.is_empty()).unwrap_or(t.someone);
    let subject = t.subject.replace("{sender}", sender);
    let site =
        v.brand_name.filter(|s| !s.is_empty()).or_else(|| v.room_link.split('/').next().filter(|s| !s.is_empty()));
    let thanks_text = match v.brand_name {
        Some(b) => t.thanks.replace("{brand}", b),
        None => t.thanks_plain.to_string(),
    };

    let mut text = vec![t.invites.replace("{sender}", sender), String::new(), format!("{}: {}", t.join, v.room_url)];
    text.extend([String::new(), t.copy.to_string(), v.room_link.to_string(), String::new(), t.tips_title.to_string()]);
    text.extend(t.tips.iter().map(|tip| format!("- {tip}")));
    text.extend([String::new(), thanks_text]);
    if let Some(site) = site {
        text.extend([String::new(), t.footer.replace("{site}", site)]);
    }

    let code = match v.lang {
        Lang::En => "en",
        Lang::Fr => "fr",
        Lang::Nl => "nl",
        Lang::De => "de",
    };
    let mut html = format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:sans-serif;color:#222\">",
        escape(&subject)
    );
    if let Some(logo) = v.logo_img {
        html.push_str(&format!("<p><img src=\"{}\" alt=\"Logo\" width=\"160\"></p>", escape(logo)));
    }
    let sender_html = match v.sender.filter(|s| s.contains('@')) {
        Some(email) => format!("<a href=\"mailto:{0}\">{0}</a>", escape(email)),
        None => escape(sender),
    };
    html.push_str(&format!("<p>{}</p>", escape(t.invites).replace("{sender}", &sender_html)));
    html.push_str(&format!(
        "<p><a href=\"{}\" style=\"display:inline-block;padding:10px 20px;background:#000091;color:#fff;\
         text-decoration:none;border-radius:4px\">{}</a></p>",
        escape(v.room_url),
        escape(t.join)
    ));
    html.push_str(&format!(
        "<p>{}<br><a href=\"{}\">{}</a></p><p>{}</p><ul>",
        escape(t.copy),
        escape(v.room_url),
        escape(v.room_link),
        escape(t.tips_title)
    ));
    for tip in t.tips {
        html.push_str(&format!("<li>{}</li>", escape(tip)));
    }
    let thanks = match v.brand_name {
        Some(b) => escape(t.thanks).replace("{brand}", &escape(b)),
        None => escape(t.thanks_plain),
    };
    html.push_str(&format!("</ul><p>{thanks}</p>"));
    if let Some(site) = site {
        html.push_str(&format!(
            "<p style=\"font-size:small;color:#666\">{}</p>",
            escape(&t.footer.replace("{site}", site))
        ));
    }
    html.push_str("</body></html>");
    Rendered { subject, text: text.join("\n"), html }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(lang: Lang) -> Vars<'static> {
        Vars {
            lang,
            sender: Some("jane@example.org"),
            brand_name: Some("Visio <B>"),
            logo_img: Some("https://cdn.example/logo.png"),
            room_url: "https://meet.example/abc-defg-hij",
            room_link: "meet.example/abc-defg-hij",
        }
    }

    #[test]
    fn b_inv_1_the_subject_is_translated_then_filled() {
        assert_eq!(
            render(&vars(Lang::En)).subject,
            "Video call in progress: jane@example.org is waiting for you to connect"
        );
        assert_eq!(render(&vars(Lang::Fr)).subject, "Appel vidéo en cours : jane@example.org vous attend");
        assert!(render(&vars(Lang::De)).subject.contains("jane@example.org wartet"));
        assert!(render(&vars(Lang::Nl)).subject.contains("jane@example.org wacht"));
    }

    #[test]
    fn b_inv_3_title_and_footer_are_filled_and_html_is_escaped() {
        let r = render(&vars(Lang::En));
        assert!(r
            .html
            .contains("<title>Video call in progress: jane@example.org is waiting for you to connect</title>"));
        assert!(r.html.contains("Visio &lt;B&gt;") && !r.html.contains("<B>"));
        assert!(r.text.contains("This e-mail was sent to you by Visio <B>."), "{}", r.text);
        assert!(r.html.contains("mailto:jane@example.org"));
        for part in [&r.text, &r.html] {
            assert!(part.contains("https://meet.example/abc-defg-hij") && part.contains("meet.example/abc-defg-hij"));
        }
    }

    #[test]
    fn b_inv_2_a_sender_without_e_mail_is_not_none() {
        let mut v = vars(Lang::Nl);
        v.sender = None;
        v.brand_name = None;
        let r = render(&v);
        assert_eq!(r.subject, "Videogesprek bezig: Iemand wacht op je");
        assert!(!r.text.contains("None") && r.text.contains("Dit bericht is naar je verstuurd door meet.example."));
    }
}
