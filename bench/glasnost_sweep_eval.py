#!/usr/bin/env python3
"""glasnost_sweep_eval.py BTTRACE DIR: the summary rows one bttrace build gives on the captures
tests/glasnost_sweep.rs kept (BTTRACE_SWEEP_KEEP=DIR cargo test --release --test glasnost_sweep),
per scenario against the rows the scenarios expect: to compare two builds on the same variants."""
import json, subprocess, sys, os, glob, collections
binary, d = sys.argv[1], sys.argv[2]
EXP = {
 "none": ["no"]*6,
 "bt-throttled": ["no","no","yes","yes","yes","yes"],
 "upload-throttled": ["no","no","yes","yes","no","no"],
 "throttled-after-100-300kB": ["no","no","yes","yes","yes","yes"],
 "app-port-dropped": ["yes","no","n/a","no","n/a","no"],
 "bt-reset-after-bitfield": ["yes","yes","n/a","n/a","n/a","n/a"],
 "bt-reset-1.5s-into-data": ["yes","yes","n/a","n/a","n/a","n/a"],
 "app-port-bt-reset": ["yes","no","n/a","no","n/a","no"],
 "app-port-dropped-and-uploads-throttled": ["yes","no","n/a","yes","n/a","no"],
}
CELLS=["block_bt_app_port","block_bt_other_port","throttle_bt_upload_app_port","throttle_bt_upload_other_port","throttle_bt_download_app_port","throttle_bt_download_other_port"]
res = collections.defaultdict(lambda: [0,0,0,0])
files = sorted(glob.glob(os.path.join(d, "*.dump")))
out = subprocess.run([binary, "analyze", "-f", "json", *files], capture_output=True, text=True).stdout
caps = json.loads(out)["captures"]
for c in caps:
    base = os.path.basename(c["path"])[:-5]
    scen = base.rsplit("-",1)[0]
    exp = EXP[scen]
    s = c.get("summary")
    got = [s[k] for k in CELLS] if s else ["(none)"]*6
    r = res[scen]
    r[0] += 1; r[1] += (got == exp); r[2] += sum(g==e for g,e in zip(got,exp)); r[3] += 6
tot=[0,0,0,0]
for k in EXP:
    r=res[k]; tot=[a+b for a,b in zip(tot,r)]
    print(f"{k:40} rows {r[1]}/{r[0]}  cells {r[2]}/{r[3]}")
print(f"{'all':40} rows {tot[1]}/{tot[0]}  cells {tot[2]}/{tot[3]}")
