//! Languages (users-auth-rooms §2.7, backend languages at HEAD: en-us, fr-fr, nl-nl, de-de):
//! Django's negotiation (the `django_language` cookie, then `Accept-Language` by q-value, then
//! `DJANGO_LANGUAGE_CODE`), `Content-Language`, and framework and Meet messages in the
//! negotiated language. French texts carry the non-breaking spaces of the catalogues.

use serde_json::{json, Value};

use crate::support::rooms::{room_with_roles, spawn};
use crate::support::{Resp, TestClient};

const ME: &str = "/api/v1.0/users/me/";
const ROOMS: &str = "/api/v1.0/rooms/";
const ACCESSES: &str = "/api/v1.0/resource-accesses/";

/// `c` sends `method path` (with `body` as JSON when given) and `Accept-Language: lang`.
async fn send(c: &TestClient, method: &str, path: &str, body: Option<&Value>, lang: &str) -> Resp {
    let mut rb =
        c.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), path).header("Accept-Language", lang);
    if let Some(body) = body {
        rb = rb.json(body);
    }
    TestClient::send(rb).await
}

fn detail(s: &str) -> Value {
    json!({ "detail": s })
}

#[tokio::test]
async fn s2_7_framework_messages_in_french() {
    let app = spawn(&[]).await;
    let c = app.client();
    let r = send(&c, "GET", ME, None, "fr").await;
    assert_eq!((r.status.as_u16(), r.json()), (401, detail("Informations d'authentification non fournies.")), "401");
    assert_eq!(r.header("content-language"), Some("fr-fr"));
    let r = send(&c, "GET", "/api/v1.0/nothing/", None, "fr-FR").await;
    assert_eq!((r.status.as_u16(), r.json()), (404, detail("Non trouvé.")), "404 of an unknown path");
    assert_eq!(r.header("content-language"), Some("fr-fr"));
    let r = send(&c, "POST", "/api/v1.0/config/", Some(&json!({})), "fr").await;
    assert_eq!((r.status.as_u16(), r.json()), (405, detail("Méthode «\u{a0}POST\u{a0}» non autorisée.")), "405");
    let (_, me) = app.logged_in("fr@example.com").await;
    let r = send(&me, "POST", ROOMS, Some(&json!({})), "fr-ca").await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"name": ["Ce champ est obligatoire."]})), "required");
    assert_eq!(r.header("content-language"), Some("fr-fr"), "fr-CA falls back to fr-fr");
    let r = send(&me, "POST", ROOMS, Some(&json!({"name": "n", "access_level": "nope"})), "fr").await;
    assert_eq!(r.json(), json!({"access_level": ["«\u{a0}nope\u{a0}» n'est pas un choix valide."]}), "choice");
    let r = send(&me, "GET", &format!("{ME}?page=9"), None, "fr").await;
    assert_eq!(r.status, 200, "`page` is not read on /users/me/");
    let r = send(&me, "GET", "/api/v1.0/rooms/?page=9", None, "fr").await;
    assert_eq!((r.status.as_u16(), r.json()), (404, detail("Page non valide.")), "invalid page");
    let r = TestClient::send(
        me.request(reqwest::Method::POST, ROOMS)
            .header("Accept-Language", "fr")
            .header("Content-Type", "text/plain")
            .body("x"),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (415, detail("Type de média «\u{a0}text/plain\u{a0}» non supporté.")),
        "unsupported media type"
    );
}

#[tokio::test]
async fn s2_7_meet_messages_in_french_and_untranslated_ones_in_english() {
    let app = spawn(&[]).await;
    let (room, [member, _, owner]) = room_with_roles(&app, "team", "public").await;
    let stranger = app.create_user("stranger@example.com").await;
    let c = app.client_for(&member).await;
    let body = json!({"user": stranger.id, "resource": room.id, "role": "member"});
    let r = send(&c, "POST", ACCESSES, Some(&body), "fr").await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (403, detail("Vous devez être administrateur ou propriétaire d'une salle pour y ajouter des accès.")),
        "Meet's own translation"
    );
    let o = app.client_for(&owner).await;
    let r = send(&o, "POST", ROOMS, Some(&json!({"name": "Team"})), "fr").await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (400, json!({"slug": ["Un objet Salle avec ce champ Slug existe déjà."]})),
        "the model's unique message with Meet's translated model name"
    );
    let r = send(&o, "DELETE", "/api/v1.0/rooms/no-such-room/", None, "fr").await;
    assert_eq!((r.status.as_u16(), r.json()), (404, detail("No Room matches the given query.")), "never translated");
    let no_csrf = TestClient { csrf: None, ..o.clone() };
    let r = send(&no_csrf, "POST", ROOMS, Some(&json!({"name": "x"})), "fr").await;
    assert_eq!((r.status.as_u16(), r.json()), (403, detail("CSRF Failed: CSRF token missing.")), "never translated");
    assert_eq!(r.header("content-language"), Some("fr-fr"));
}

#[tokio::test]
async fn s2_7_dutch_and_german() {
    let app = spawn(&[]).await;
    let c = app.client();
    let r = send(&c, "GET", ME, None, "nl").await;
    assert_eq!((r.status.as_u16(), r.json()), (401, detail("Authenticatiegegevens zijn niet opgegeven.")));
    assert_eq!(r.header("content-language"), Some("nl-nl"));
    let r = send(&c, "GET", "/api/v1.0/nothing/", None, "de-CH, en;q=0.5").await;
    assert_eq!((r.status.as_u16(), r.json()), (404, detail("Nicht gefunden.")));
    assert_eq!(r.header("content-language"), Some("de-de"));
    let (_, me) = app.logged_in("de@example.com").await;
    let r = send(&me, "POST", ROOMS, Some(&json!({"name": null})), "de").await;
    assert_eq!(r.json(), json!({"name": ["Dieses Feld darf nicht null sein."]}));
    let r = send(&me, "PUT", "/api/v1.0/config/", Some(&json!({})), "nl-BE").await;
    assert_eq!((r.status.as_u16(), r.json()), (405, detail("Methode \"PUT\" niet toegestaan.")));
}

#[tokio::test]
async fn s2_7_negotiation_cookie_then_header_then_language_code() {
    let app = spawn(&[]).await;
    let c = app.client();
    let r = c.get(ME).await;
    assert_eq!(
        (r.header("content-language"), r.json()),
        (Some("en-us"), detail("Authentication credentials were not provided."))
    );
    let cases = [
        ("nl;q=0.5, de;q=0.8", "de-de"),
        ("es, fr;q=0.1, nl;q=0.1", "fr-fr"),
        ("*, fr", "en-us"),
        ("fr ,de", "fr-fr"),
        ("fr;q=2", "en-us"),
        ("pt-BR", "en-us"),
    ];
    for (header, expected) in cases {
        let r = send(&c, "GET", ME, None, header).await;
        assert_eq!(r.header("content-language"), Some(expected), "{header}");
    }
    let with_cookie = |value: &str| {
        let c = app.client();
        let url: reqwest::Url = app.url("/").parse().unwrap();
        c.jar.add_cookie_str(&format!("django_language={value}; Path=/"), &url);
        c
    };
    let r = send(&with_cookie("nl-nl"), "GET", ME, None, "de").await;
    assert_eq!(r.header("content-language"), Some("nl-nl"), "the cookie comes first");
    assert_eq!(r.json(), detail("Authenticatiegegevens zijn niet opgegeven."));
    let r = send(&with_cookie("fr"), "GET", ME, None, "de").await;
    assert_eq!(r.header("content-language"), Some("fr-fr"), "a generic cookie finds its variant");
    let r = send(&with_cookie("klingon"), "GET", ME, None, "de").await;
    assert_eq!(r.header("content-language"), Some("de-de"), "an unsupported cookie is skipped");

    let app = spawn(&[("DJANGO_LANGUAGE_CODE", "de-de")]).await;
    let r = app.client().get(ME).await;
    assert_eq!((r.header("content-language"), r.json()), (Some("de-de"), detail("Anmeldedaten fehlen.")));
    let r = send(&app.client(), "GET", ME, None, "es").await;
    assert_eq!(r.header("content-language"), Some("de-de"), "no supported language in the header");
}

#[tokio::test]
async fn s2_7_throttle_message_in_french() {
    let app = spawn(&[("CREATION_CALLBACK_THROTTLE_RATES", "1/minute")]).await;
    let c = app.client();
    let path = "/api/v1.0/rooms/creation-callback/";
    assert_eq!(send(&c, "POST", path, Some(&json!({"callback_id": "1"})), "fr").await.status, 200);
    let r = send(&c, "POST", path, Some(&json!({"callback_id": "1"})), "fr").await;
    assert_eq!(r.status, 429);
    let wait = r.header("retry-after").expect("Retry-After").to_string();
    let unit = if wait == "1" { "seconde" } else { "secondes" };
    assert_eq!(r.json(), detail(&format!("Requête ralentie. Disponible à nouveau dans {wait} {unit}.")));
}
