//! Fargate prices per vCPU-hour and GB-hour, on-demand and Spot, for x86_64
//! and arm64 (Linux). A dated table for the regions where they are known
//! here; `pricing` in deploy.yaml overrides it (and is required elsewhere).
//!
//! Source: the AWS Fargate pricing page, us-east-1, us-east-2 and us-west-2
//! (the same prices in the three), as of 2026-11. Spot prices change with
//! supply; the table uses the usual 70% discount on the on-demand price.

use crate::config::Settings;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub vcpu_hour: f64,
    pub gb_hour: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prices {
    pub on_demand: Rate,
    pub spot: Rate,
    pub source: &'static str,
}

const X86: Rate = Rate { vcpu_hour: 0.04048, gb_hour: 0.004445 };
const ARM: Rate = Rate { vcpu_hour: 0.03238, gb_hour: 0.00356 };
const SPOT_DISCOUNT: f64 = 0.70;

fn spot_of(r: Rate) -> Rate {
    Rate { vcpu_hour: r.vcpu_hour * (1.0 - SPOT_DISCOUNT), gb_hour: r.gb_hour * (1.0 - SPOT_DISCOUNT) }
}

pub fn prices(settings: &Settings, region: &str) -> anyhow::Result<Prices> {
    if let Some(p) = &settings.pricing {
        return Ok(Prices { on_demand: p.on_demand, spot: p.spot.unwrap_or_else(|| spot_of(p.on_demand)), source: "prices from deploy.yaml" });
    }
    anyhow::ensure!(
        matches!(region, "us-east-1" | "us-east-2" | "us-west-2"),
        "no Fargate prices for {region} in the table (us-east-1, us-east-2, us-west-2): set pricing.on_demand (vcpu_hour, gb_hour) in deploy.yaml"
    );
    let on_demand = if settings.architecture == "arm64" { ARM } else { X86 };
    Ok(Prices { on_demand, spot: spot_of(on_demand), source: "AWS Fargate prices of 2026-11, Spot at 70% off" })
}
