//! The ECS client, with one compatibility shim for the local emulator.
//!
//! moto answers with `cpu` and `memory` as JSON numbers where the ECS API has
//! strings (a task's, its containers', a task definition's; only container
//! definitions have integers), and the SDK then refuses the whole response
//! ("type mismatch: expected string"). For a
//! plain-`http://` endpoint only (an emulator; AWS is always HTTPS), the
//! responses are rewritten to the API's types before the SDK reads them.
//!
//! moto also runs a task only with `launchType: FARGATE`: a RunTask with a
//! capacity provider strategy (Fargate Spot) fails there with an HTTP 500
//! ("No instances found"), since it takes any other launch for EC2. To the
//! emulator, such a request also says `launchType: FARGATE` (it ignores the
//! strategy). The AWS path uses the SDK's own client, untouched.

use aws_config::SdkConfig;
use aws_sdk_ecs::config::http::HttpResponse;
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use serde_json::Value;

pub fn ecs_client(config: &SdkConfig) -> aws_sdk_ecs::Client {
    let mut builder = aws_sdk_ecs::config::Builder::from(config);
    if config.endpoint_url().is_some_and(|url| url.starts_with("http://")) {
        builder = builder.http_client(EmulatorClient { inner: aws_smithy_http_client::Builder::new().build_http() });
    }
    aws_sdk_ecs::Client::from_conf(builder.build())
}

#[derive(Debug)]
struct EmulatorClient {
    inner: SharedHttpClient,
}

impl HttpClient for EmulatorClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(EmulatorConnector { inner: self.inner.http_connector(settings, components) })
    }
}

#[derive(Debug)]
struct EmulatorConnector {
    inner: SharedHttpConnector,
}

impl HttpConnector for EmulatorConnector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        if request.headers().get("x-amz-target").is_some_and(|t| t.ends_with(".RunTask"))
            && let Some(body) = request.body().bytes().and_then(fargate_for_capacity_providers)
        {
            request.headers_mut().insert("content-length", body.len().to_string());
            *request.body_mut() = SdkBody::from(body);
        }
        let call = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            let mut response: HttpResponse = call.await?;
            let body = std::mem::replace(response.body_mut(), SdkBody::taken());
            let bytes = ByteStream::new(body).collect().await.map_err(|e| ConnectorError::io(e.into()))?.into_bytes();
            *response.body_mut() = SdkBody::from(stringify_container_numbers(&bytes));
            Ok(response)
        })
    }
}

/// A RunTask body with a capacity provider strategy and no launch type, with
/// `launchType: FARGATE` added; `None` for any other body.
fn fargate_for_capacity_providers(body: &[u8]) -> Option<Vec<u8>> {
    let mut doc = serde_json::from_slice::<Value>(body).ok()?;
    let map = doc.as_object_mut()?;
    if !map.contains_key("capacityProviderStrategy") || map.contains_key("launchType") {
        return None;
    }
    map.insert("launchType".into(), Value::String("FARGATE".into()));
    serde_json::to_vec(&doc).ok()
}

/// `cpu`, `memory` and `memoryReservation` as strings anywhere but in
/// `containerDefinitions` and `containerOverrides` (integers in the API);
/// any other body is passed on as it came.
fn stringify_container_numbers(body: &[u8]) -> Vec<u8> {
    let Ok(mut doc) = serde_json::from_slice::<Value>(body) else { return body.to_vec() };
    fn walk(v: &mut Value, integers_here: bool, changed: &mut bool) {
        match v {
            Value::Object(map) => {
                if !integers_here {
                    for key in ["cpu", "memory", "memoryReservation"] {
                        if let Some(n @ Value::Number(_)) = map.get_mut(key) {
                            *n = Value::String(n.to_string());
                            *changed = true;
                        }
                    }
                }
                for (k, v) in map.iter_mut() {
                    walk(v, k == "containerDefinitions" || k == "containerOverrides", changed);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, integers_here, changed)),
            _ => {}
        }
    }
    let mut changed = false;
    walk(&mut doc, false, &mut changed);
    if changed { serde_json::to_vec(&doc).expect("JSON value serialises") } else { body.to_vec() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_container_numbers_change() {
        let body = br#"{"tasks":[{"cpu":"1024","containers":[{"cpu":0,"memory":2048,"name":"worker"}]}],"failures":[]}"#;
        let out: serde_json::Value = serde_json::from_slice(&super::stringify_container_numbers(body)).unwrap();
        assert_eq!(out["tasks"][0]["containers"][0]["cpu"], "0");
        assert_eq!(out["tasks"][0]["containers"][0]["memory"], "2048");
        assert_eq!(out["tasks"][0]["cpu"], "1024");
        let def = br#"{"taskDefinition":{"cpu":"1024","memory":2048,"containerDefinitions":[{"name":"worker","memory":2048}]}}"#;
        let out: serde_json::Value = serde_json::from_slice(&super::stringify_container_numbers(def)).unwrap();
        assert_eq!(out["taskDefinition"]["memory"], "2048");
        assert_eq!(out["taskDefinition"]["containerDefinitions"][0]["memory"], 2048, "container definitions keep integers");
        let task = br#"{"tasks":[{"overrides":{"memory":"4096","containerOverrides":[{"name":"worker","memory":4096}]}}]}"#;
        let out: serde_json::Value = serde_json::from_slice(&super::stringify_container_numbers(task)).unwrap();
        assert_eq!(out["tasks"][0]["overrides"]["containerOverrides"][0]["memory"], 4096, "container overrides keep integers");
        assert_eq!(super::stringify_container_numbers(b"not json"), b"not json");
    }

    #[test]
    fn a_spot_run_task_also_says_fargate_to_the_emulator() {
        let spot = br#"{"cluster":"c","capacityProviderStrategy":[{"capacityProvider":"FARGATE_SPOT","weight":1}]}"#;
        let out: serde_json::Value = serde_json::from_slice(&super::fargate_for_capacity_providers(spot).unwrap()).unwrap();
        assert_eq!(out["launchType"], "FARGATE");
        assert_eq!(out["capacityProviderStrategy"][0]["capacityProvider"], "FARGATE_SPOT");
        assert_eq!(super::fargate_for_capacity_providers(br#"{"cluster":"c","launchType":"FARGATE"}"#), None);
    }
}
