//! A reporter uploads a photo from the scene: it is kept upright and without the
//! metadata that says where she stood, it gets a preview and a blurhash, and it goes out
//! with her notice. Files that are not images, or are broken or hostile, are refused.

mod common;

use common::{Backend, TestApp, User, spawn};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

on_both_backends!(
    a_photo_from_the_scene_goes_out_with_the_notice_and_nothing_else,
    a_reporter_sets_her_pictures_and_corrects_a_photo
);

/// A JPEG of `w`×`h` with an EXIF segment that names a place.
fn photo(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .unwrap();
    let jpeg = jpeg.into_inner();
    let payload = b"Exif\0\0GPS-SECRET 52.5200N 13.4050E";
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    app1.extend_from_slice(payload);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

async fn upload(app: &TestApp, who: &User, bytes: Vec<u8>, name: &str) -> (u16, Value) {
    let form = Form::new()
        .part("file", Part::bytes(bytes).file_name(name.to_string()))
        .text("description", "Queue outside the polling station")
        .text("focus", "0.0,0.5");
    let res = app
        .http
        .post(app.url("/api/v2/media"))
        .bearer_auth(&who.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn a_photo_from_the_scene_goes_out_with_the_notice_and_nothing_else(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    let original = photo(800, 600);
    assert!(original.windows(10).any(|w| w == b"GPS-SECRET"));
    let (s, media) = upload(&app, &ann, original, "scene.jpg").await;
    assert_eq!(s, 200, "{media}");
    assert_eq!(media["type"], "image");
    assert_eq!(media["description"], "Queue outside the polling station");
    assert_eq!(media["meta"]["original"]["width"], 800);
    assert_eq!(media["meta"]["focus"]["y"], 0.5);
    assert_eq!(media["meta"]["small"]["width"], 640);
    assert_eq!(media["meta"]["small"]["height"], 480);
    assert!(!media["blurhash"].as_str().unwrap().is_empty());
    let mid = media["id"].as_str().unwrap().to_string();

    // The file kept has the picture and nothing else.
    let res = app
        .http
        .get(media["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let kept = res.bytes().await.unwrap();
    assert!(
        !kept.windows(10).any(|w| w == b"GPS-SECRET"),
        "EXIF must be gone"
    );
    assert!(!kept.windows(4).any(|w| w == b"Exif"));
    let decoded = image::load_from_memory(&kept).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (800, 600));
    let preview = app
        .http
        .get(media["preview_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), 200);

    // Only its uploader can describe it, or attach it, and only once.
    let (s, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/media/{mid}"),
            &bob.token,
            Some(json!({"description": "mine"})),
        )
        .await;
    assert_eq!(s, 404);
    let (s, m) = app
        .call(
            Method::PUT,
            &format!("/api/v1/media/{mid}"),
            &ann.token,
            Some(json!({"description": "Queue at 7 am"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(m["description"], "Queue at 7 am");
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/statuses",
            &bob.token,
            Some(json!({"status": "stolen", "media_ids": [mid]})),
        )
        .await;
    assert_eq!(s, 422);
    let n = app
        .post_with(
            &ann,
            json!({"status": "Long queues #vote", "media_ids": [mid]}),
        )
        .await;
    assert_eq!(n["media_attachments"][0]["id"], mid.as_str());
    assert_eq!(n["media_attachments"][0]["description"], "Queue at 7 am");
    let (_, tl) = app.get_json("/api/v1/timelines/tag/vote", None).await;
    assert_eq!(tl[0]["media_attachments"][0]["id"], mid.as_str(), "{tl}");
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/statuses",
            &ann.token,
            Some(json!({"status": "again", "media_ids": [mid]})),
        )
        .await;
    assert_eq!(s, 422, "attached already");
    // Deleted, the notice takes its images with it.
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{}", n["id"].as_str().unwrap()),
            &ann.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    for url in [
        media["url"].as_str().unwrap(),
        media["preview_url"].as_str().unwrap(),
    ] {
        let res = app.http.get(url).send().await.unwrap();
        assert_eq!(res.status(), 404, "{url}");
    }
    let (_, only) = app
        .get_json(
            &format!("/api/v1/accounts/{}/statuses?only_media=true", ann.id),
            None,
        )
        .await;
    assert!(only.as_array().is_some());

    // Not an image, broken, or too many pixels: 422, and nothing kept.
    let mut truncated = photo(400, 300);
    truncated.truncate(truncated.len() / 3);
    let mut huge = Vec::new();
    {
        // A PNG header that claims 20,000 × 20,000 pixels.
        let img = image::RgbImage::new(1, 1);
        image::DynamicImage::ImageRgb8(img)
            .write_to(
                &mut std::io::Cursor::new(&mut huge),
                image::ImageFormat::Png,
            )
            .unwrap();
        huge[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&20_000u32.to_be_bytes());
    }
    for (bytes, name) in [
        (b"just some text, not a picture".to_vec(), "notes.txt"),
        (truncated, "cut.jpg"),
        (huge, "bomb.png"),
        (Vec::new(), "empty.jpg"),
    ] {
        let (s, err) = upload(&app, &ann, bytes, name).await;
        assert_eq!(s, 422, "{name}: {err}");
        assert!(err["error"].is_string(), "{err}");
    }
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/statuses",
            &ann.token,
            Some(json!({"status": "x", "media_ids": ["1", "2", "3", "4", "5"]})),
        )
        .await;
    assert_eq!(s, 422);
}

async fn a_reporter_sets_her_pictures_and_corrects_a_photo(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;

    // Her avatar and header: cropped to Mastodon's sizes, metadata gone, served.
    let form = Form::new()
        .text("display_name", "Ann at the count")
        .part("avatar", Part::bytes(photo(900, 600)).file_name("me.jpg"))
        .part(
            "header",
            Part::bytes(photo(1200, 900)).file_name("hall.jpg"),
        );
    let res = app
        .http
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&ann.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["display_name"], "Ann at the count");
    for (field, w, h) in [("avatar", 400, 400), ("header", 1500, 500)] {
        let url = me[field].as_str().unwrap();
        assert!(url.contains("/media/"), "{field}: {url}");
        assert_eq!(me[format!("{field}_static")], url);
        let res = app.http.get(url).send().await.unwrap();
        assert_eq!(res.status(), 200, "{url}");
        let bytes = res.bytes().await.unwrap();
        assert!(!bytes.windows(10).any(|w| w == b"GPS-SECRET"));
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (w, h), "{field}");
    }
    let (_, public) = app
        .get_json(&format!("/api/v1/accounts/{}", ann.id), None)
        .await;
    assert_eq!(public["avatar"], me["avatar"]);

    // A new avatar replaces the old, which is no longer served.
    let old = me["avatar"].as_str().unwrap().to_string();
    let res = app
        .http
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&ann.token)
        .multipart(Form::new().part("avatar", Part::bytes(photo(300, 300)).file_name("b.jpg")))
        .send()
        .await
        .unwrap();
    let me: Value = res.json().await.unwrap();
    assert_ne!(me["avatar"], old.as_str());
    assert_eq!(app.http.get(&old).send().await.unwrap().status(), 404);
    assert_eq!(me["display_name"], "Ann at the count", "the rest unchanged");

    // A broken picture, or a URL where a file belongs, changes nothing.
    let mut cut = photo(200, 200);
    cut.truncate(cut.len() / 2);
    for form in [
        Form::new()
            .text("display_name", "changed")
            .part("avatar", Part::bytes(cut).file_name("cut.jpg")),
        Form::new()
            .text("display_name", "changed")
            .text("header", "https://elsewhere.example/x.png"),
    ] {
        let res = app
            .http
            .patch(app.url("/api/v1/accounts/update_credentials"))
            .bearer_auth(&ann.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422);
    }
    let (_, now) = app
        .get_json("/api/v1/accounts/verify_credentials", Some(&ann.token))
        .await;
    assert_eq!(now["display_name"], "Ann at the count");
    assert_eq!(now["avatar"], me["avatar"]);

    // A notice's wrong photo is corrected: the edit carries the new one, the old one is
    // no longer served.
    let (_, wrong) = upload(&app, &ann, photo(640, 480), "wrong.jpg").await;
    let (_, right) = upload(&app, &ann, photo(480, 640), "right.jpg").await;
    let s = app
        .post_with(
            &ann,
            json!({"status": "The queue", "media_ids": [wrong["id"]]}),
        )
        .await;
    let sid = s["id"].as_str().unwrap();
    let wrong_url = s["media_attachments"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, edited) = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/statuses/{sid}"),
            &ann.token,
            Some(json!({"status": "The queue (photo corrected)", "media_ids": [right["id"]]})),
        )
        .await;
    assert_eq!(code, 200, "{edited}");
    assert_eq!(edited["media_attachments"].as_array().unwrap().len(), 1);
    assert_eq!(edited["media_attachments"][0]["id"], right["id"]);
    assert_eq!(app.http.get(&wrong_url).send().await.unwrap().status(), 404);
    let right_url = edited["media_attachments"][0]["url"].as_str().unwrap();
    assert_eq!(app.http.get(right_url).send().await.unwrap().status(), 200);
    // Someone else's upload cannot be put on it.
    let bob = app.register("bob").await;
    let (_, bobs) = upload(&app, &bob, photo(64, 64), "b.jpg").await;
    let (code, _) = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/statuses/{sid}"),
            &ann.token,
            Some(json!({"status": "again", "media_ids": [bobs["id"]]})),
        )
        .await;
    assert_eq!(code, 422);
    let (_, still) = app.get_json(&format!("/api/v1/statuses/{sid}"), None).await;
    assert_eq!(still["media_attachments"][0]["id"], right["id"]);
}
