//! `report.md`: the comparison table, the Pareto fronts, the build-vs-buy section, and
//! footnotes saying which figures were measured here and which come from a profile.

use std::fmt::Write as _;

use super::boards::Ownership;
use super::{BoardCost, Report};
use crate::format::bytes;

/// The whole markdown report. `plot` is the SVG file name to link, if one was written.
pub fn markdown(r: &Report, plot: Option<&str>) -> String {
    let mut s = String::new();
    let st = &r.settings;
    let _ = writeln!(s, "# Quantization comparison\n");
    let _ = writeln!(s, "Command: `{}`\n", r.command);
    let _ = writeln!(
        s,
        "Source (KLD reference): `{}`{}. Text: `{}`, {} chunk(s) of {} tokens{} ({} scored tokens). \
         Speed: pp{} and tg{}, {} repetition(s) after a warm-up, {} thread(s), kernels {}, CPU {}.\n",
        st.source,
        if st.source_quantized {
            " — already quantized: the types below were requantized from it (--allow-requantize)"
        } else {
            ""
        },
        st.text,
        st.n_chunks,
        st.n_ctx,
        if st.n_chunks < st.n_chunks_available {
            format!(" (of {} available; --chunks)", st.n_chunks_available)
        } else {
            String::new()
        },
        st.scored_tokens,
        st.n_prompt,
        st.n_gen,
        st.repetitions,
        st.threads,
        st.kernels,
        st.cpu
    );
    s += "| type | size | bits/weight | PPL | ΔPPL | mean KLD | same top | pp t/s | tg t/s | peak RSS | Pareto |\n";
    s += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
    for row in &r.rows {
        let pareto = match (row.pareto_size, row.pareto_speed) {
            _ if row.is_source => "reference",
            (true, true) => "size, speed",
            (true, false) => "size",
            (false, true) => "speed",
            (false, false) => "",
        };
        let _ = writeln!(
            s,
            "| {}{} | {} | {:.2} | {:.4} ± {:.4} | {:+.4} | {:.4} ± {:.4} | {:.2} ± {:.2} % | {:.1} ± {:.1} | {:.2} ± {:.2} | {} | {} |",
            row.ty,
            if row.is_source { " (source)" } else { "" },
            bytes(row.file_bytes),
            row.bits_per_weight,
            row.ppl,
            row.ppl_unc,
            row.delta_ppl,
            row.kld_mean,
            row.kld_unc,
            100.0 * row.same_top,
            100.0 * row.same_top_unc,
            row.pp_tps,
            row.pp_sd,
            row.tg_tps,
            row.tg_sd,
            row.peak_rss_bytes.map_or_else(|| "n/a".to_owned(), bytes),
            pareto
        );
    }
    s += "\nAll figures in this table were measured here, by this run. PPL ± its standard error; \
          KLD is the mean KL(source ‖ type) per scored token ± its standard error; same top is \
          the share of positions where the type's most likely token is the source's; t/s is \
          mean ± sample standard deviation; peak RSS is the process's peak during the speed \
          tests. Pareto: on the front of file size vs KLD and/or generation speed vs KLD \
          (no other type is both smaller/faster and closer to the source).\n";
    if let Some(p) = plot {
        let _ = writeln!(
            s,
            "\n![mean KLD against file size and generation speed]({p})"
        );
    }
    let _ = writeln!(s, "\n## Build or buy\n");
    let _ = writeln!(
        s,
        "Hosted API: {} USD per million generated tokens (`--api-price`); electricity {} USD/kWh \
         (`--kwh-price`). On-device cost = (hardware cost per second + energy cost per second) ÷ \
         tg t/s × 10⁶. Break-even = hardware cost per month ÷ (API price − energy cost) per \
         token; capacity = tokens the board generates in a month at 100 % duty.",
        r.cost.prices.api_usd_per_mtok, r.cost.prices.kwh_usd
    );
    for b in &r.cost.boards {
        board_section(&mut s, b, r.cost.prices.api_usd_per_mtok);
    }
    s
}

fn board_section(s: &mut String, b: &BoardCost, api: f64) {
    let bd = &b.board;
    let own = match bd.ownership {
        Ownership::Purchase {
            price_usd,
            lifetime_years,
        } => format!("bought for {price_usd} USD, written off over {lifetime_years} years"),
        Ownership::Rental { usd_per_hour } => {
            format!("rented at {usd_per_hour} USD/hour (energy included)")
        }
    };
    let _ = writeln!(s, "\n### {}\n", bd.name);
    let _ = writeln!(
        s,
        "Profile (not measured here): {own}; {} W under load. {}\n\nSpeed: **{}**.\n",
        bd.watts, bd.description, b.speed_source
    );
    *s += "| type | tg t/s used | on-device USD/Mtok | of which energy | API USD/Mtok | hardware USD/month | break-even Mtok/month | capacity Mtok/month | verdict |\n";
    *s += "|---|---:|---:|---:|---:|---:|---:|---:|---|\n";
    for t in &b.lines {
        let c = &t.cost;
        let (be, verdict) = match c.break_even_mtok_per_month {
            None => (
                "never".to_owned(),
                "API is cheaper than the energy alone".to_owned(),
            ),
            Some(v) if c.reachable => (
                format!("{v:.2}"),
                format!("owning pays off above {v:.2} Mtok/month"),
            ),
            Some(v) => (
                format!("{v:.2}"),
                format!(
                    "cannot reach break-even: needs {:.1}× its capacity",
                    v / c.capacity_mtok_per_month
                ),
            ),
        };
        let _ = writeln!(
            s,
            "| {} | {:.2} | {:.3} | {:.4} | {api} | {:.2} | {be} | {:.2} | {verdict} |",
            t.ty,
            c.tg_tps,
            c.usd_per_mtok,
            c.energy_usd_per_mtok,
            c.hardware_usd_per_month,
            c.capacity_mtok_per_month
        );
    }
}
