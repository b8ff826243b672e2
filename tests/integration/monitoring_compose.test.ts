// docker-compose.yml's optional monitoring (profile "monitoring"), checked as far as a machine
// without Docker can: the compose file parses, both services are optional and mount files the
// repository has, Prometheus' config passes promtool, and Grafana's provisioning points at the
// compose Prometheus and at the folder where the dashboard is mounted.
import { expect } from 'chai';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT, promtool } from '../support/prometheus';

interface ComposeService {
  image?: string;
  profiles?: string[];
  command?: string[];
  volumes?: string[];
  ports?: string[];
}

async function readYaml<T>(file: string): Promise<T> {
  return parse(await fs.readFile(path.join(REPO_ROOT, file), 'utf8')) as T;
}

/** host path (from the repository) -> container path, of each bind mount. */
function mounts(service: ComposeService): Map<string, string> {
  return new Map(
    (service.volumes ?? []).map((volume) => {
      const [host, container] = volume.split(':');
      return [path.normalize(host), container];
    }),
  );
}

describe('docker-compose monitoring', () => {
  it('has prometheus and grafana only under the monitoring profile, mounting shipped files', async () => {
    const { services } = await readYaml<{ services: Record<string, ComposeService> }>(
      'docker-compose.yml',
    );

    const { prometheus, grafana } = services;
    expect(prometheus.profiles).to.deep.equal(['monitoring']);
    expect(grafana.profiles).to.deep.equal(['monitoring']);
    for (const [name, service] of Object.entries(services)) {
      if (name !== 'prometheus' && name !== 'grafana')
        expect(service.profiles, name).to.equal(undefined);
      for (const host of mounts(service).keys()) {
        expect(existsSync(path.join(REPO_ROOT, host)), `${name} mounts ${host}`).to.equal(true);
      }
    }
    expect(mounts(prometheus).get('deploy/prometheus')).to.equal('/etc/prometheus');
    expect(prometheus.command).to.include('--config.file=/etc/prometheus/prometheus.yml');
    expect(mounts(grafana).get('deploy/grafana/provisioning')).to.equal(
      '/etc/grafana/provisioning',
    );
    expect(mounts(grafana).get('deploy/grafana/allocation.json')).to.equal(
      '/var/lib/grafana/dashboards/allocation.json',
    );
  });

  it('gives Prometheus a config that promtool accepts, scraping the api service', async function () {
    this.timeout(120_000); // the first run may install Debian's prometheus package
    const config = await readYaml<{
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    }>('deploy/prometheus/prometheus.yml');

    const { code, output } = await promtool(['check', 'config', 'prometheus.yml']);

    expect(code, output).to.equal(0);
    const [job] = config.scrape_configs;
    expect(job.job_name).to.equal('allocation'); // the alerts select job="allocation"
    expect(job.static_configs[0].targets).to.deep.equal(['api:8000']);
  });

  it("provisions Grafana with the compose Prometheus and the dashboard's folder", async () => {
    const sources = await readYaml<{ datasources: { type: string; url: string }[] }>(
      'deploy/grafana/provisioning/datasources/prometheus.yml',
    );
    const dashboards = await readYaml<{ providers: { options: { path: string } }[] }>(
      'deploy/grafana/provisioning/dashboards/allocation.yml',
    );
    const dashboard = JSON.parse(
      await fs.readFile(path.join(REPO_ROOT, 'deploy/grafana/allocation.json'), 'utf8'),
    ) as { uid: string; panels: unknown[] };

    expect(sources.datasources[0]).to.include({
      type: 'prometheus',
      url: 'http://prometheus:9090',
    });
    expect(dashboards.providers[0].options.path).to.equal('/var/lib/grafana/dashboards');
    expect(dashboard.uid).to.equal('allocation');
    expect(dashboard.panels.length).to.be.greaterThan(10);
  });
});
