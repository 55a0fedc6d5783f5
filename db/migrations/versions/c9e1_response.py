"""contractor control, training gating, emergency response, compliance register

Revision ID: c9e1_response
Revises: 0001_initial
Create Date: 2026-11-21 12:23:38.240061
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'c9e1_response'
down_revision: str | Sequence[str] | None = '0001_initial'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('plan_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('steps', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('resource_kinds', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('notify_roles', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('external_contacts', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('lessons', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('fire', 'gas_leak', 'chemical_spill', 'injury')", name=op.f('ck_plan_template_kind')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_plan_template_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_template')),
    sa.UniqueConstraint('kind', 'site_id', 'version', name=op.f('uq_plan_template_kind_site_id_version'), postgresql_nulls_not_distinct=True)
    )
    op.create_index(op.f('ix_plan_template_site_id'), 'plan_template', ['site_id'], unique=False)
    op.create_table('regulation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=80), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('authority', sa.String(length=200), nullable=True),
    sa.Column('clause', sa.String(length=200), nullable=True),
    sa.Column('requirement', sa.Text(), nullable=True),
    sa.Column('ledger_kind', sa.String(length=20), nullable=True),
    sa.Column('effective_on', sa.Date(), nullable=True),
    sa.Column('review_due_on', sa.Date(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("kind IN ('law', 'regulation', 'national_standard', 'local_standard', 'internal_standard')", name=op.f('ck_regulation_kind')),
    sa.CheckConstraint("ledger_kind IS NULL OR ledger_kind IN ('waste_gas', 'training', 'inspection')", name=op.f('ck_regulation_ledger_kind')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_regulation_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regulation')),
    sa.UniqueConstraint('site_id', 'code', name=op.f('uq_regulation_site_id_code'), postgresql_nulls_not_distinct=True)
    )
    op.create_index(op.f('ix_regulation_site_id'), 'regulation', ['site_id'], unique=False)
    op.create_table('induction_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('pass_mark', sa.Double(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('recorded_by', sa.String(length=120), nullable=True),
    sa.CheckConstraint('pass_mark BETWEEN 0 AND 100', name=op.f('ck_induction_attempt_pass_mark_0_100')),
    sa.CheckConstraint('score BETWEEN 0 AND 100', name=op.f('ck_induction_attempt_score_0_100')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_induction_attempt_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_induction_attempt'))
    )
    op.create_index(op.f('ix_induction_attempt_person_id'), 'induction_attempt', ['person_id'], unique=False)
    op.create_table('emergency',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('declared_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('declared_by', sa.String(length=120), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=True),
    sa.Column('plan', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('plan_ms', sa.Double(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=120), nullable=True),
    sa.CheckConstraint("kind IN ('fire', 'gas_leak', 'chemical_spill', 'injury')", name=op.f('ck_emergency_kind')),
    sa.CheckConstraint("status IN ('active', 'closed')", name=op.f('ck_emergency_status')),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_emergency_area_id_area'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_emergency_site_id_site'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['plan_template.id'], name=op.f('fk_emergency_template_id_plan_template'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency'))
    )
    op.create_index(op.f('ix_emergency_area_id'), 'emergency', ['area_id'], unique=False)
    op.create_index('ix_emergency_site_declared', 'emergency', ['site_id', 'declared_at'], unique=False)
    op.create_table('gating_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('gas_areas_only', sa.Boolean(), nullable=False),
    sa.Column('area_kinds', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('required_courses', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('match', sa.String(length=3), nullable=False),
    sa.Column('trigger', sa.String(length=12), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.CheckConstraint("match IN ('all', 'any')", name=op.f('ck_gating_rule_match')),
    sa.CheckConstraint("trigger IN ('open_alarm', 'always')", name=op.f('ck_gating_rule_trigger')),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_gating_rule_area_id_area'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_gating_rule_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gating_rule')),
    sa.UniqueConstraint('code', name=op.f('uq_gating_rule_code'))
    )
    op.create_index(op.f('ix_gating_rule_site_id'), 'gating_rule', ['site_id'], unique=False)
    op.create_table('emergency_event',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('emergency_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.CheckConstraint("kind IN ('declared', 'plan', 'notified', 'action', 'resource_used', 'note', 'closed', 'reviewed')", name=op.f('ck_emergency_event_kind')),
    sa.ForeignKeyConstraint(['emergency_id'], ['emergency.id'], name=op.f('fk_emergency_event_emergency_id_emergency'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_id'], ['emergency_resource.id'], name=op.f('fk_emergency_event_resource_id_emergency_resource'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_event'))
    )
    op.create_index(op.f('ix_emergency_event_emergency_id'), 'emergency_event', ['emergency_id'], unique=False)
    op.create_table('emergency_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('emergency_id', sa.Integer(), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_by', sa.String(length=120), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('lessons', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('new_steps', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['emergency_id'], ['emergency.id'], name=op.f('fk_emergency_review_emergency_id_emergency'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['plan_template.id'], name=op.f('fk_emergency_review_template_id_plan_template'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_review')),
    sa.UniqueConstraint('emergency_id', name=op.f('uq_emergency_review_emergency_id'))
    )
    op.create_table('job_signoff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('party', sa.String(length=20), nullable=False),
    sa.Column('signed_by', sa.String(length=120), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("party IN ('contractor', 'supervisor', 'area_owner', 'safety')", name=op.f('ck_job_signoff_party')),
    sa.ForeignKeyConstraint(['job_id'], ['contractor_job.id'], name=op.f('fk_job_signoff_job_id_contractor_job'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_signoff')),
    sa.UniqueConstraint('job_id', 'party', name=op.f('uq_job_signoff_job_id_party'))
    )
    op.create_index(op.f('ix_job_signoff_job_id'), 'job_signoff', ['job_id'], unique=False)
    op.create_table('supervisor_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('supervisor_person_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('photos', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.CheckConstraint("result IN ('ok', 'issues', 'stop_work')", name=op.f('ck_supervisor_check_result')),
    sa.CheckConstraint('jsonb_array_length(photos) >= 1', name=op.f('ck_supervisor_check_has_photo')),
    sa.ForeignKeyConstraint(['job_id'], ['contractor_job.id'], name=op.f('fk_supervisor_check_job_id_contractor_job'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['supervisor_person_id'], ['person.id'], name=op.f('fk_supervisor_check_supervisor_person_id_person'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervisor_check'))
    )
    op.create_index(op.f('ix_supervisor_check_job_id'), 'supervisor_check', ['job_id'], unique=False)
    op.create_table('entry_warning',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('alarm_id', sa.Integer(), nullable=True),
    sa.Column('missing', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notified_person_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.String(length=60), nullable=True),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarm.id'], name=op.f('fk_entry_warning_alarm_id_alarm'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_entry_warning_area_id_area'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['notified_person_id'], ['person.id'], name=op.f('fk_entry_warning_notified_person_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_entry_warning_person_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['gating_rule.id'], name=op.f('fk_entry_warning_rule_id_gating_rule'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_entry_warning_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entry_warning'))
    )
    op.create_index(op.f('ix_entry_warning_area_id'), 'entry_warning', ['area_id'], unique=False)
    op.create_index(op.f('ix_entry_warning_person_id'), 'entry_warning', ['person_id'], unique=False)
    op.create_index('ix_entry_warning_site_raised', 'entry_warning', ['site_id', 'raised_at'], unique=False)
    op.create_index('uq_entry_warning_open', 'entry_warning', ['rule_id', 'person_id', 'area_id'], unique=True, postgresql_where=sa.text('resolved_at IS NULL'))
    _install_reference_data()


# Reference data as it stood when this migration was written (copied here: a migration imports
# nothing from the application, whose defaults may change later).
_PLAN_TEMPLATES: list[dict] = [{'kind': 'fire',
  'title': 'Fire response',
  'steps': ['Raise the alarm: press the nearest manual call point and announce the fire area on the PA '
            'system.',
            'Call the fire brigade (119): site address, area, what is burning, whether anyone is trapped.',
            'Stop hot work; isolate power and fuel gas to the area if it can be done safely.',
            'Fight only an incipient fire, with the right extinguisher and a clear escape route behind you.',
            'Evacuate along the evacuation route; the area owner sweeps the area and closes doors behind.',
            'Roll call at the assembly point against the list of people present; report anyone missing.',
            'Meet the fire brigade at the gate with the hazardous-materials list and the site plan.',
            'Keep everyone out until the fire brigade declares the area safe.'],
  'resource_kinds': ['extinguisher', 'breathing_apparatus', 'first_aid'],
  'notify_roles': ['area_owner', 'plant_manager', 'security', 'contractor_supervisor'],
  'external_contacts': [{'name': 'Fire brigade', 'contact': '119'},
                        {'name': 'Emergency medical service', 'contact': '120'}]},
 {'kind': 'gas_leak',
  'title': 'Toxic or flammable gas release',
  'steps': ['Sound the gas alarm and evacuate at once, upwind of the release.',
            'Remove ignition sources: stop hot work, do not operate electrical switches in the area.',
            'Isolate the source (close upstream valves) only from a safe position and with breathing '
            'apparatus.',
            'Measure at the area boundary with portable detectors; cordon off where readings exceed the '
            'alarm limit.',
            'Entry only with self-contained breathing apparatus, in pairs, with a standby person outside.',
            'Roll call at the assembly point; anyone exposed goes to first aid and medical observation.',
            'Ventilate and re-measure; re-entry only with O2 19.5-23.5 %vol and gases below their alarm '
            'limits.'],
  'resource_kinds': ['gas_detector', 'breathing_apparatus', 'first_aid', 'eyewash'],
  'notify_roles': ['area_owner', 'plant_manager', 'security', 'contractor_supervisor'],
  'external_contacts': [{'name': 'Fire brigade (hazmat)', 'contact': '119'},
                        {'name': 'Emergency medical service', 'contact': '120'},
                        {'name': 'Environmental protection hotline', 'contact': '12369'}]},
 {'kind': 'chemical_spill',
  'title': 'Chemical spill',
  'steps': ['Warn people nearby and keep them away; evacuate the area if vapours are present.',
            'Identify the material from the hazardous-materials list and read its safety data sheet.',
            'Put on the PPE the safety data sheet requires (chemical gloves, goggles, respirator).',
            'Stop the source and contain the spill with the spill kit; cover or block drains.',
            'Absorb or neutralise; collect the waste in labelled containers for hazardous-waste disposal.',
            'Anyone splashed: eyewash or safety shower for at least 15 minutes, then first aid.',
            'Report to the environmental officer if anything reached drains or soil.'],
  'resource_kinds': ['spill_kit', 'eyewash', 'first_aid', 'breathing_apparatus'],
  'notify_roles': ['area_owner', 'plant_manager', 'security', 'contractor_supervisor'],
  'external_contacts': [{'name': 'Emergency medical service', 'contact': '120'},
                        {'name': 'Environmental protection hotline', 'contact': '12369'}]},
 {'kind': 'injury',
  'title': 'Injury',
  'steps': ['Make the scene safe: emergency stop and lock out machines before approaching the casualty.',
            'Call the site first-aider; for a serious injury call the emergency medical service (120).',
            'Give first aid within your training; do not move a casualty with a suspected spinal injury.',
            'Send someone to meet the ambulance at the gate and guide it to the area.',
            'Preserve the scene for the investigation; photograph it before anything is moved.',
            'Record the casualty, the injury and the witnesses; report the incident within the shift.'],
  'resource_kinds': ['first_aid', 'eyewash'],
  'notify_roles': ['area_owner', 'plant_manager', 'security', 'contractor_supervisor'],
  'external_contacts': [{'name': 'Emergency medical service', 'contact': '120'}]}]

_GATING_RULES: list[dict] = [{'code': 'GAS_AREA_H2S_CONFINED',
  'name': 'Gas area under alarm: valid H2S and confined-space training',
  'gas_areas_only': True,
  'area_kinds': [],
  'required_courses': ['H2S', 'CONFINED'],
  'match': 'all',
  'trigger': 'open_alarm',
  'description': 'While an alarm is open in a gas area, only people with valid hydrogen-sulphide awareness '
                 'and confined-space entry training may enter.'},
 {'code': 'CHEM_STORE_HANDLING',
  'name': 'Chemical store: valid hazardous-chemical handling training',
  'gas_areas_only': False,
  'area_kinds': ['chemical_store'],
  'required_courses': ['CHEM'],
  'match': 'all',
  'trigger': 'always',
  'description': 'Chemical stores are entered only by people with valid hazardous-chemical handling '
                 'training.'},
 {'code': 'HOT_WORK_AREAS',
  'name': 'Welding and soldering under alarm: valid hot-work training',
  'gas_areas_only': False,
  'area_kinds': ['welding', 'soldering'],
  'required_courses': ['HOTWORK'],
  'match': 'all',
  'trigger': 'open_alarm',
  'description': 'While an alarm is open in a welding or soldering area, entry needs valid hot-work '
                 'training.'}]


def _install_reference_data() -> None:
    """Default emergency plan templates and training-gating rules (reference data, not demo data)."""
    jsonb = postgresql.JSONB(astext_type=sa.Text())
    templates = sa.table(
        "plan_template", sa.column("kind", sa.String), sa.column("site_id", sa.Integer), sa.column("version", sa.Integer),
        sa.column("title", sa.String), sa.column("steps", jsonb), sa.column("resource_kinds", jsonb),
        sa.column("notify_roles", jsonb), sa.column("external_contacts", jsonb), sa.column("lessons", jsonb),
        sa.column("active", sa.Boolean), sa.column("created_by", sa.String))
    op.bulk_insert(templates, [dict(t, site_id=None, version=1, lessons=[], active=True, created_by="system")
                               for t in _PLAN_TEMPLATES])
    rules = sa.table(
        "gating_rule", sa.column("code", sa.String), sa.column("name", sa.String), sa.column("site_id", sa.Integer),
        sa.column("area_id", sa.Integer), sa.column("gas_areas_only", sa.Boolean), sa.column("area_kinds", jsonb),
        sa.column("required_courses", jsonb), sa.column("match", sa.String), sa.column("trigger", sa.String),
        sa.column("active", sa.Boolean), sa.column("description", sa.Text))
    op.bulk_insert(rules, [dict(r, site_id=None, area_id=None, active=True) for r in _GATING_RULES])


def downgrade() -> None:
    op.drop_index('uq_entry_warning_open', table_name='entry_warning', postgresql_where=sa.text('resolved_at IS NULL'))
    op.drop_index('ix_entry_warning_site_raised', table_name='entry_warning')
    op.drop_index(op.f('ix_entry_warning_person_id'), table_name='entry_warning')
    op.drop_index(op.f('ix_entry_warning_area_id'), table_name='entry_warning')
    op.drop_table('entry_warning')
    op.drop_index(op.f('ix_supervisor_check_job_id'), table_name='supervisor_check')
    op.drop_table('supervisor_check')
    op.drop_index(op.f('ix_job_signoff_job_id'), table_name='job_signoff')
    op.drop_table('job_signoff')
    op.drop_table('emergency_review')
    op.drop_index(op.f('ix_emergency_event_emergency_id'), table_name='emergency_event')
    op.drop_table('emergency_event')
    op.drop_index(op.f('ix_gating_rule_site_id'), table_name='gating_rule')
    op.drop_table('gating_rule')
    op.drop_index('ix_emergency_site_declared', table_name='emergency')
    op.drop_index(op.f('ix_emergency_area_id'), table_name='emergency')
    op.drop_table('emergency')
    op.drop_index(op.f('ix_induction_attempt_person_id'), table_name='induction_attempt')
    op.drop_table('induction_attempt')
    op.drop_index(op.f('ix_regulation_site_id'), table_name='regulation')
    op.drop_table('regulation')
    op.drop_index(op.f('ix_plan_template_site_id'), table_name='plan_template')
    op.drop_table('plan_template')
