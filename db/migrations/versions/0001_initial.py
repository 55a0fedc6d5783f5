"""initial schema: organisation, assets and readings, alarms, hazards, inspections, people, vision, assessment

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-21 12:13:05.222928
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001_initial'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('contractor_company',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('licence_no', sa.String(length=80), nullable=True),
    sa.Column('licence_expires_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('approved_safety_by', sa.String(length=120), nullable=True),
    sa.Column('approved_safety_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_legal_by', sa.String(length=120), nullable=True),
    sa.Column('approved_legal_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'approved', 'suspended')", name=op.f('ck_contractor_company_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contractor_company')),
    sa.UniqueConstraint('name', name=op.f('uq_contractor_company_name'))
    )
    op.create_table('dead_letter',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('topic', sa.Text(), nullable=True),
    sa.Column('payload', postgresql.BYTEA(), nullable=True),
    sa.Column('reason', sa.String(length=60), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letter'))
    )
    op.create_index(op.f('ix_dead_letter_reason'), 'dead_letter', ['reason'], unique=False)
    op.create_table('enterprise',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise')),
    sa.UniqueConstraint('name', name=op.f('uq_enterprise_name'))
    )
    op.create_table('job_run',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('job', sa.String(length=80), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_s', sa.Double(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('worker', sa.String(length=120), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('running', 'ok', 'failed', 'skipped')", name=op.f('ck_job_run_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_run'))
    )
    op.create_index(op.f('ix_job_run_job'), 'job_run', ['job'], unique=False)
    op.create_table('notification',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('recipient', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ref', sa.String(length=120), nullable=True),
    sa.CheckConstraint("channel IN ('email', 'webhook', 'mqtt')", name=op.f('ck_notification_channel')),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f('ck_notification_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    op.create_table('sensor_reading',
    sa.Column('sensor_id', sa.Integer(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Double(), nullable=False),
    sa.Column('quality', sa.SmallInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('sensor_id', 'ts', name=op.f('pk_sensor_reading')),
    postgresql_partition_by='RANGE (ts)'
    )
    op.create_index('ix_sensor_reading_ts_brin', 'sensor_reading', ['ts'], unique=False, postgresql_using='brin')
    op.create_table('sensor_reading_daily',
    sa.Column('sensor_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('avg', sa.Double(), nullable=False),
    sa.Column('min', sa.Double(), nullable=False),
    sa.Column('max', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('sensor_id', 'day', name=op.f('pk_sensor_reading_daily'))
    )
    op.create_table('sensor_reading_hourly',
    sa.Column('sensor_id', sa.Integer(), nullable=False),
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('avg', sa.Double(), nullable=False),
    sa.Column('min', sa.Double(), nullable=False),
    sa.Column('max', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('sensor_id', 'bucket', name=op.f('pk_sensor_reading_hourly'))
    )
    op.create_table('training_course',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('validity_months', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_course')),
    sa.UniqueConstraint('code', name=op.f('uq_training_course_code'))
    )
    op.create_table('region',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_region_enterprise_id_enterprise'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_region')),
    sa.UniqueConstraint('code', name=op.f('uq_region_code'))
    )
    op.create_index(op.f('ix_region_enterprise_id'), 'region', ['enterprise_id'], unique=False)
    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('industry', sa.String(length=80), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('city', sa.String(length=120), nullable=True),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_site_region_id_region'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site')),
    sa.UniqueConstraint('code', name=op.f('uq_site_code'))
    )
    op.create_index(op.f('ix_site_region_id'), 'site', ['region_id'], unique=False)
    op.create_table('assessment_indicator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=True),
    sa.Column('level', sa.String(length=12), nullable=False),
    sa.Column('stage', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=80), nullable=False),
    sa.Column('formula', sa.Text(), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('target', sa.Double(), nullable=False),
    sa.Column('excellent_at', sa.Double(), nullable=False),
    sa.Column('qualified_at', sa.Double(), nullable=False),
    sa.Column('higher_is_better', sa.Boolean(), nullable=False),
    sa.Column('manual', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("level IN ('enterprise', 'department', 'post')", name=op.f('ck_assessment_indicator_level')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_assessment_indicator_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_indicator')),
    sa.UniqueConstraint('code', 'version', name=op.f('uq_assessment_indicator_code_version'))
    )
    op.create_table('department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('stage', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_department_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department')),
    sa.UniqueConstraint('site_id', 'code', name=op.f('uq_department_site_id_code'))
    )
    op.create_index(op.f('ix_department_site_id'), 'department', ['site_id'], unique=False)
    op.create_table('sla_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=60), nullable=True),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('response_hours', sa.Double(), nullable=False),
    sa.Column('use_calendar', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_sla_policy_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_policy'))
    )
    op.create_table('assessment_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('unit_type', sa.String(length=12), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('value', sa.Double(), nullable=True),
    sa.Column('numerator', sa.Double(), nullable=True),
    sa.Column('denominator', sa.Double(), nullable=True),
    sa.Column('rating', sa.String(length=20), nullable=False),
    sa.Column('evidence', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('manual_entry_by', sa.String(length=120), nullable=True),
    sa.Column('manual_evidence', sa.Text(), nullable=True),
    sa.Column('needs_plan', sa.Boolean(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("rating IN ('excellent', 'qualified', 'needs_improvement', 'not_available')", name=op.f('ck_assessment_score_rating')),
    sa.CheckConstraint("unit_type IN ('enterprise', 'site', 'department', 'post')", name=op.f('ck_assessment_score_unit_type')),
    sa.ForeignKeyConstraint(['indicator_id'], ['assessment_indicator.id'], name=op.f('fk_assessment_score_indicator_id_assessment_indicator'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_assessment_score_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_score')),
    sa.UniqueConstraint('indicator_id', 'unit_type', 'unit_id', 'period', name=op.f('uq_assessment_score_indicator_id_unit_type_unit_id_period'))
    )
    op.create_index(op.f('ix_assessment_score_indicator_id'), 'assessment_score', ['indicator_id'], unique=False)
    op.create_index(op.f('ix_assessment_score_site_id'), 'assessment_score', ['site_id'], unique=False)
    op.create_table('hours_worked',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('hours', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('headcount', sa.Integer(), nullable=False),
    sa.Column('contractor_hours', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.CheckConstraint('extract(day from month) = 1', name=op.f('ck_hours_worked_month_first_day')),
    sa.CheckConstraint('hours >= 0', name=op.f('ck_hours_worked_hours_nonneg')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_hours_worked_department_id_department'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_hours_worked_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hours_worked')),
    sa.UniqueConstraint('site_id', 'department_id', 'month', name=op.f('uq_hours_worked_site_id_department_id_month'), postgresql_nulls_not_distinct=True)
    )
    op.create_index(op.f('ix_hours_worked_department_id'), 'hours_worked', ['department_id'], unique=False)
    op.create_index(op.f('ix_hours_worked_site_id'), 'hours_worked', ['site_id'], unique=False)
    op.create_table('post',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('hazardous', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_post_department_id_department'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post')),
    sa.UniqueConstraint('department_id', 'code', name=op.f('uq_post_department_id_code'))
    )
    op.create_index(op.f('ix_post_department_id'), 'post', ['department_id'], unique=False)
    op.create_table('person',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('employee_no', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('contractor_company_id', sa.Integer(), nullable=True),
    sa.Column('induction_score', sa.Double(), nullable=True),
    sa.Column('induction_passed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hired_on', sa.Date(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('blood_type', sa.String(length=4), nullable=True),
    sa.Column('medical_conditions', sa.Text(), nullable=True),
    sa.Column('last_medical_exam_on', sa.Date(), nullable=True),
    sa.Column('fit_for_duty', sa.Boolean(), nullable=True),
    sa.CheckConstraint("kind IN ('employee', 'contractor')", name=op.f('ck_person_kind')),
    sa.ForeignKeyConstraint(['contractor_company_id'], ['contractor_company.id'], name=op.f('fk_person_contractor_company_id_contractor_company'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_person_department_id_department'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], name=op.f('fk_person_post_id_post'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_person_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person')),
    sa.UniqueConstraint('employee_no', name=op.f('uq_person_employee_no'))
    )
    op.create_index(op.f('ix_person_contractor_company_id'), 'person', ['contractor_company_id'], unique=False)
    op.create_index(op.f('ix_person_department_id'), 'person', ['department_id'], unique=False)
    op.create_index(op.f('ix_person_post_id'), 'person', ['post_id'], unique=False)
    op.create_index(op.f('ix_person_site_id'), 'person', ['site_id'], unique=False)
    op.create_table('area',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('risk_class', sa.String(length=1), nullable=False),
    sa.Column('is_gas_area', sa.Boolean(), nullable=False),
    sa.Column('owner_person_id', sa.Integer(), nullable=True),
    sa.Column('evacuation_route', sa.Text(), nullable=True),
    sa.Column('assembly_point', sa.String(length=200), nullable=True),
    sa.Column('x_m', sa.Double(), nullable=False),
    sa.Column('y_m', sa.Double(), nullable=False),
    sa.CheckConstraint("risk_class IN ('A', 'B', 'C')", name=op.f('ck_area_risk_class')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_area_department_id_department'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_person_id'], ['person.id'], name=op.f('fk_area_owner_person_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_area_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_area')),
    sa.UniqueConstraint('site_id', 'code', name=op.f('uq_area_site_id_code'))
    )
    op.create_index(op.f('ix_area_department_id'), 'area', ['department_id'], unique=False)
    op.create_index(op.f('ix_area_owner_person_id'), 'area', ['owner_person_id'], unique=False)
    op.create_index(op.f('ix_area_site_id'), 'area', ['site_id'], unique=False)
    op.create_table('qualification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('number', sa.String(length=80), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['contractor_company.id'], name=op.f('fk_qualification_company_id_contractor_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_qualification_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qualification'))
    )
    op.create_index(op.f('ix_qualification_company_id'), 'qualification', ['company_id'], unique=False)
    op.create_index(op.f('ix_qualification_person_id'), 'qualification', ['person_id'], unique=False)
    op.create_table('training_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('score', sa.Double(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['training_course.id'], name=op.f('fk_training_record_course_id_training_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_training_record_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_record')),
    sa.UniqueConstraint('person_id', 'course_id', 'completed_on', name=op.f('uq_training_record_person_id_course_id_completed_on'))
    )
    op.create_index(op.f('ix_training_record_course_id'), 'training_record', ['course_id'], unique=False)
    op.create_index(op.f('ix_training_record_person_id'), 'training_record', ['person_id'], unique=False)
    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('all_sites', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("locale IN ('en', 'zh')", name=op.f('ck_user_account_locale')),
    sa.CheckConstraint("role IN ('admin', 'group_manager', 'plant_manager', 'plant_head', 'data_scientist', 'security', 'inspector', 'worker')", name=op.f('ck_user_account_role')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_user_account_person_id_person'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('username', name=op.f('uq_user_account_username'))
    )
    op.create_table('asset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('product_type', sa.String(length=1), nullable=False),
    sa.Column('manufacturer', sa.String(length=120), nullable=True),
    sa.Column('installed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("product_type IN ('L', 'M', 'H')", name=op.f('ck_asset_product_type')),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_asset_area_id_area'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_asset_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_asset')),
    sa.UniqueConstraint('code', name=op.f('uq_asset_code'))
    )
    op.create_index(op.f('ix_asset_area_id'), 'asset', ['area_id'], unique=False)
    op.create_index(op.f('ix_asset_site_id'), 'asset', ['site_id'], unique=False)
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=80), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity', sa.String(length=60), nullable=True),
    sa.Column('entity_id', sa.String(length=60), nullable=True),
    sa.Column('sensitive', sa.Boolean(), nullable=False),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_audit_log_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_at', 'audit_log', ['at'], unique=False)
    op.create_index(op.f('ix_audit_log_user_id'), 'audit_log', ['user_id'], unique=False)
    op.create_table('camera',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('source_url', sa.Text(), nullable=False),
    sa.Column('detect_fps', sa.Double(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('config', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_camera_area_id_area'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_camera_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_camera')),
    sa.UniqueConstraint('site_id', 'name', name=op.f('uq_camera_site_id_name'))
    )
    op.create_index(op.f('ix_camera_area_id'), 'camera', ['area_id'], unique=False)
    op.create_index(op.f('ix_camera_site_id'), 'camera', ['site_id'], unique=False)
    op.create_table('contractor_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('work_types', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('approved_by', sa.String(length=120), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('supervisor_person_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('requested', 'approved', 'active', 'completed', 'cancelled')", name=op.f('ck_contractor_job_status')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_contractor_job_window_order')),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_contractor_job_area_id_area'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['company_id'], ['contractor_company.id'], name=op.f('fk_contractor_job_company_id_contractor_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_contractor_job_site_id_site'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['supervisor_person_id'], ['person.id'], name=op.f('fk_contractor_job_supervisor_person_id_person'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contractor_job'))
    )
    op.create_index(op.f('ix_contractor_job_area_id'), 'contractor_job', ['area_id'], unique=False)
    op.create_index(op.f('ix_contractor_job_company_id'), 'contractor_job', ['company_id'], unique=False)
    op.create_index(op.f('ix_contractor_job_site_id'), 'contractor_job', ['site_id'], unique=False)
    op.create_table('dispatch_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=60), nullable=True),
    sa.Column('min_severity', sa.String(length=10), nullable=True),
    sa.Column('department_ids', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_dispatch_rule_area_id_area'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_dispatch_rule_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_rule'))
    )
    op.create_table('emergency_resource',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('last_checked_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_emergency_resource_area_id_area'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_emergency_resource_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_resource'))
    )
    op.create_index(op.f('ix_emergency_resource_area_id'), 'emergency_resource', ['area_id'], unique=False)
    op.create_index(op.f('ix_emergency_resource_site_id'), 'emergency_resource', ['site_id'], unique=False)
    op.create_table('hazardous_material',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('cas_no', sa.String(length=20), nullable=True),
    sa.Column('hazard_class', sa.String(length=60), nullable=False),
    sa.Column('quantity', sa.Double(), nullable=False),
    sa.Column('unit', sa.String(length=10), nullable=False),
    sa.Column('max_quantity', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_hazardous_material_area_id_area'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_hazardous_material_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazardous_material'))
    )
    op.create_index(op.f('ix_hazardous_material_area_id'), 'hazardous_material', ['area_id'], unique=False)
    op.create_index(op.f('ix_hazardous_material_site_id'), 'hazardous_material', ['site_id'], unique=False)
    op.create_table('inspection_route',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('frequency_days', sa.Double(), nullable=True),
    sa.Column('checklist', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_inspection_route_area_id_area'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_inspection_route_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_route'))
    )
    op.create_index(op.f('ix_inspection_route_area_id'), 'inspection_route', ['area_id'], unique=False)
    op.create_index(op.f('ix_inspection_route_site_id'), 'inspection_route', ['site_id'], unique=False)
    op.create_table('user_site_scope',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_user_site_scope_site_id_site'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_user_site_scope_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'site_id', name=op.f('pk_user_site_scope'))
    )
    op.create_table('access_record',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('exited_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_access_record_area_id_area'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['contractor_job.id'], name=op.f('fk_access_record_job_id_contractor_job'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_access_record_person_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_access_record_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_record'))
    )
    op.create_index('ix_access_record_area_open', 'access_record', ['area_id', 'exited_at'], unique=False)
    op.create_index(op.f('ix_access_record_person_id'), 'access_record', ['person_id'], unique=False)
    op.create_table('camera_zone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('polygon', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('required_ppe', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('active_from', sa.Time(), nullable=True),
    sa.Column('active_to', sa.Time(), nullable=True),
    sa.Column('cooldown_s', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_camera_zone_area_id_area'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['camera_id'], ['camera.id'], name=op.f('fk_camera_zone_camera_id_camera'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_camera_zone'))
    )
    op.create_index(op.f('ix_camera_zone_camera_id'), 'camera_zone', ['camera_id'], unique=False)
    op.create_table('contractor_job_worker',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['contractor_job.id'], name=op.f('fk_contractor_job_worker_job_id_contractor_job'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_contractor_job_worker_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'person_id', name=op.f('pk_contractor_job_worker'))
    )
    op.create_table('failure_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('mode', sa.String(length=40), nullable=False),
    sa.Column('downtime_h', sa.Double(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], name=op.f('fk_failure_event_asset_id_asset'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_failure_event'))
    )
    op.create_index(op.f('ix_failure_event_asset_id'), 'failure_event', ['asset_id'], unique=False)
    op.create_index(op.f('ix_failure_event_occurred_at'), 'failure_event', ['occurred_at'], unique=False)
    op.create_table('failure_prediction',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('scored_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('horizon_days', sa.Integer(), nullable=False),
    sa.Column('probability', sa.Double(), nullable=False),
    sa.Column('risk_band', sa.String(length=10), nullable=False),
    sa.Column('model_name', sa.String(length=120), nullable=False),
    sa.Column('model_version', sa.String(length=40), nullable=False),
    sa.Column('threshold', sa.Double(), nullable=True),
    sa.Column('base_value', sa.Double(), nullable=True),
    sa.Column('contributions', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.CheckConstraint("risk_band IN ('low', 'medium', 'high', 'critical')", name=op.f('ck_failure_prediction_risk_band')),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], name=op.f('fk_failure_prediction_asset_id_asset'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_failure_prediction'))
    )
    op.create_index('ix_failure_prediction_asset_scored', 'failure_prediction', ['asset_id', 'scored_at'], unique=False)
    op.create_table('inspection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('route_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('performed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('inspector_person_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('results', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('findings', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('scheduled', 'done', 'missed')", name=op.f('ck_inspection_status')),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_inspection_area_id_area'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inspector_person_id'], ['person.id'], name=op.f('fk_inspection_inspector_person_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['route_id'], ['inspection_route.id'], name=op.f('fk_inspection_route_id_inspection_route'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection')),
    sa.UniqueConstraint('route_id', 'due_at', name=op.f('uq_inspection_route_id_due_at'))
    )
    op.create_index(op.f('ix_inspection_area_id'), 'inspection', ['area_id'], unique=False)
    op.create_index(op.f('ix_inspection_route_id'), 'inspection', ['route_id'], unique=False)
    op.create_table('maintenance_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('preventive', 'corrective', 'tool_change', 'inspection')", name=op.f('ck_maintenance_event_kind')),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], name=op.f('fk_maintenance_event_asset_id_asset'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_event'))
    )
    op.create_index(op.f('ix_maintenance_event_asset_id'), 'maintenance_event', ['asset_id'], unique=False)
    op.create_table('sensor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('min_valid', sa.Double(), nullable=True),
    sa.Column('max_valid', sa.Double(), nullable=True),
    sa.Column('warn_low', sa.Double(), nullable=True),
    sa.Column('warn_high', sa.Double(), nullable=True),
    sa.Column('alarm_low', sa.Double(), nullable=True),
    sa.Column('alarm_high', sa.Double(), nullable=True),
    sa.Column('sample_period_s', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_sensor_area_id_area'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], name=op.f('fk_sensor_asset_id_asset'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_sensor_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sensor')),
    sa.UniqueConstraint('site_id', 'code', name=op.f('uq_sensor_site_id_code'))
    )
    op.create_index(op.f('ix_sensor_area_id'), 'sensor', ['area_id'], unique=False)
    op.create_index(op.f('ix_sensor_asset_id'), 'sensor', ['asset_id'], unique=False)
    op.create_index(op.f('ix_sensor_site_id'), 'sensor', ['site_id'], unique=False)
    op.create_table('alarm_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sensor_kind', sa.String(length=40), nullable=True),
    sa.Column('sensor_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('op', sa.String(length=1), nullable=False),
    sa.Column('threshold', sa.Double(), nullable=False),
    sa.Column('clear_threshold', sa.Double(), nullable=True),
    sa.Column('duration_s', sa.Integer(), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('threshold', 'rate')", name=op.f('ck_alarm_rule_kind')),
    sa.CheckConstraint("op IN ('>', '<')", name=op.f('ck_alarm_rule_op')),
    sa.CheckConstraint("severity IN ('info', 'warning', 'critical')", name=op.f('ck_alarm_rule_severity')),
    sa.ForeignKeyConstraint(['sensor_id'], ['sensor.id'], name=op.f('fk_alarm_rule_sensor_id_sensor'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_alarm_rule_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarm_rule'))
    )
    op.create_index(op.f('ix_alarm_rule_sensor_id'), 'alarm_rule', ['sensor_id'], unique=False)
    op.create_index(op.f('ix_alarm_rule_sensor_kind'), 'alarm_rule', ['sensor_kind'], unique=False)
    op.create_table('hazard_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('location', sa.String(length=300), nullable=True),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('likelihood', sa.SmallInteger(), nullable=False),
    sa.Column('consequence', sa.SmallInteger(), nullable=False),
    sa.Column('status', sa.String(length=15), nullable=False),
    sa.Column('source', sa.String(length=15), nullable=False),
    sa.Column('reporter_person_id', sa.Integer(), nullable=True),
    sa.Column('reporter_user_id', sa.Integer(), nullable=True),
    sa.Column('photo_path', sa.Text(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('response_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rectified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reject_reason', sa.Text(), nullable=True),
    sa.Column('is_repeat', sa.Boolean(), nullable=False),
    sa.Column('predecessor_id', sa.Integer(), nullable=True),
    sa.Column('inspection_id', sa.Integer(), nullable=True),
    sa.Column('points_awarded', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("severity IN ('low', 'normal', 'high', 'severe')", name=op.f('ck_hazard_report_severity')),
    sa.CheckConstraint("source IN ('worker', 'inspection', 'alarm', 'vision', 'import')", name=op.f('ck_hazard_report_source')),
    sa.CheckConstraint("status IN ('reported', 'assigned', 'in_progress', 'rectified', 'verified', 'closed', 'rejected', 'reopened')", name=op.f('ck_hazard_report_status')),
    sa.CheckConstraint('consequence BETWEEN 1 AND 5', name=op.f('ck_hazard_report_consequence_1_5')),
    sa.CheckConstraint('likelihood BETWEEN 1 AND 5', name=op.f('ck_hazard_report_likelihood_1_5')),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_hazard_report_area_id_area'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], name=op.f('fk_hazard_report_asset_id_asset'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_hazard_report_inspection_id_inspection'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['predecessor_id'], ['hazard_report.id'], name=op.f('fk_hazard_report_predecessor_id_hazard_report'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporter_person_id'], ['person.id'], name=op.f('fk_hazard_report_reporter_person_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporter_user_id'], ['user_account.id'], name=op.f('fk_hazard_report_reporter_user_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_hazard_report_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard_report'))
    )
    op.create_index(op.f('ix_hazard_report_area_id'), 'hazard_report', ['area_id'], unique=False)
    op.create_index(op.f('ix_hazard_report_asset_id'), 'hazard_report', ['asset_id'], unique=False)
    op.create_index(op.f('ix_hazard_report_reporter_person_id'), 'hazard_report', ['reporter_person_id'], unique=False)
    op.create_index('ix_hazard_report_site_reported', 'hazard_report', ['site_id', 'reported_at'], unique=False)
    op.create_table('vision_event',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('label', sa.String(length=40), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('max_score', sa.Double(), nullable=False),
    sa.Column('boxes', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('track_id', sa.String(length=60), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('snapshot_path', sa.Text(), nullable=True),
    sa.Column('review_status', sa.String(length=15), server_default='new', nullable=False),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("review_status IN ('new', 'confirmed', 'dismissed', 'false_positive')", name=op.f('ck_vision_event_review_status')),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_vision_event_area_id_area'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['camera_id'], ['camera.id'], name=op.f('fk_vision_event_camera_id_camera'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by'], ['user_account.id'], name=op.f('fk_vision_event_reviewed_by_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_vision_event_site_id_site'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['zone_id'], ['camera_zone.id'], name=op.f('fk_vision_event_zone_id_camera_zone'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vision_event'))
    )
    op.create_index(op.f('ix_vision_event_camera_id'), 'vision_event', ['camera_id'], unique=False)
    op.create_index('ix_vision_event_review', 'vision_event', ['review_status', 'started_at'], unique=False)
    op.create_index('ix_vision_event_site_started', 'vision_event', ['site_id', 'started_at'], unique=False)
    op.create_table('alarm',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('sensor_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=15), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_value', sa.Double(), nullable=False),
    sa.Column('last_value', sa.Double(), nullable=False),
    sa.Column('peak_value', sa.Double(), nullable=False),
    sa.Column('update_count', sa.Integer(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=80), nullable=True),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.CheckConstraint("severity IN ('info', 'warning', 'critical')", name=op.f('ck_alarm_severity')),
    sa.CheckConstraint("status IN ('open', 'acknowledged', 'cleared')", name=op.f('ck_alarm_status')),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_alarm_area_id_area'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['alarm_rule.id'], name=op.f('fk_alarm_rule_id_alarm_rule'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sensor_id'], ['sensor.id'], name=op.f('fk_alarm_sensor_id_sensor'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_alarm_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarm'))
    )
    op.create_index(op.f('ix_alarm_area_id'), 'alarm', ['area_id'], unique=False)
    op.create_index(op.f('ix_alarm_sensor_id'), 'alarm', ['sensor_id'], unique=False)
    op.create_index('ix_alarm_site_raised', 'alarm', ['site_id', 'raised_at'], unique=False)
    op.create_index('uq_alarm_open_rule_sensor', 'alarm', ['rule_id', 'sensor_id'], unique=True, postgresql_where=sa.text('cleared_at IS NULL'))
    op.create_table('corrective_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('owner_person_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=15), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_by', sa.String(length=120), nullable=True),
    sa.Column('escalation_level', sa.SmallInteger(), nullable=False),
    sa.Column('last_escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cost', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.CheckConstraint("status IN ('open', 'in_progress', 'done', 'verified', 'cancelled')", name=op.f('ck_corrective_action_status')),
    sa.CheckConstraint('escalation_level BETWEEN 0 AND 3', name=op.f('ck_corrective_action_escalation_0_3')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_corrective_action_department_id_department'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazard_report.id'], name=op.f('fk_corrective_action_hazard_id_hazard_report'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_person_id'], ['person.id'], name=op.f('fk_corrective_action_owner_person_id_person'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_corrective_action'))
    )
    op.create_index(op.f('ix_corrective_action_department_id'), 'corrective_action', ['department_id'], unique=False)
    op.create_index('ix_corrective_action_due', 'corrective_action', ['status', 'due_at'], unique=False)
    op.create_index(op.f('ix_corrective_action_hazard_id'), 'corrective_action', ['hazard_id'], unique=False)
    op.create_index(op.f('ix_corrective_action_owner_person_id'), 'corrective_action', ['owner_person_id'], unique=False)
    op.create_table('hazard_transition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=15), nullable=True),
    sa.Column('to_status', sa.String(length=15), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazard_report.id'], name=op.f('fk_hazard_transition_hazard_id_hazard_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard_transition'))
    )
    op.create_index(op.f('ix_hazard_transition_hazard_id'), 'hazard_transition', ['hazard_id'], unique=False)
    op.create_table('incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('recordable', sa.Boolean(), nullable=False),
    sa.Column('lost_time', sa.Boolean(), nullable=False),
    sa.Column('restricted_or_transfer', sa.Boolean(), nullable=False),
    sa.Column('days_away', sa.Integer(), nullable=False),
    sa.Column('days_restricted', sa.Integer(), nullable=False),
    sa.Column('fatality', sa.Boolean(), nullable=False),
    sa.Column('contractor_involved', sa.Boolean(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('related_hazard_id', sa.Integer(), nullable=True),
    sa.Column('cost', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.CheckConstraint("kind IN ('injury', 'illness', 'near_miss', 'property_damage', 'first_aid', 'environmental')", name=op.f('ck_incident_kind')),
    sa.CheckConstraint('days_away >= 0 AND days_restricted >= 0', name=op.f('ck_incident_days_nonneg')),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_incident_area_id_area'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_incident_department_id_department'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_incident_person_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['related_hazard_id'], ['hazard_report.id'], name=op.f('fk_incident_related_hazard_id_hazard_report'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_incident_site_id_site'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident'))
    )
    op.create_index(op.f('ix_incident_area_id'), 'incident', ['area_id'], unique=False)
    op.create_index(op.f('ix_incident_department_id'), 'incident', ['department_id'], unique=False)
    op.create_index('ix_incident_site_occurred', 'incident', ['site_id', 'occurred_at'], unique=False)
    op.create_table('action_escalation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notified', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['corrective_action.id'], name=op.f('fk_action_escalation_action_id_corrective_action'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_escalation')),
    sa.UniqueConstraint('action_id', 'level', name=op.f('uq_action_escalation_action_id_level'))
    )
    op.execute(ENSURE_PARTITIONS_SQL)
    op.execute(REFRESH_ROLLUP_SQL)


ENSURE_PARTITIONS_SQL = """
CREATE OR REPLACE FUNCTION qhse_ensure_reading_partitions(from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_ts AT TIME ZONE 'UTC')::date;
    last date := date_trunc('month', to_ts AT TIME ZONE 'UTC')::date;
    made integer := 0;
    pname text;
BEGIN
    WHILE m <= last LOOP
        pname := format('sensor_reading_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
        IF to_regclass(pname) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE IF NOT EXISTS %I PARTITION OF sensor_reading FOR VALUES FROM (%L) TO (%L)',
                pname, (m::timestamp AT TIME ZONE 'UTC'), ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            made := made + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN made;
END $$;
"""

REFRESH_ROLLUP_SQL = """
CREATE OR REPLACE FUNCTION qhse_refresh_rollups(from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE affected integer;
BEGIN
    INSERT INTO sensor_reading_hourly (sensor_id, bucket, n, avg, min, max)
    SELECT sensor_id, date_trunc('hour', ts), count(*), avg(value), min(value), max(value)
    FROM sensor_reading
    WHERE ts >= date_trunc('hour', from_ts) AND ts < to_ts
    GROUP BY 1, 2
    ON CONFLICT (sensor_id, bucket) DO UPDATE
      SET n = EXCLUDED.n, avg = EXCLUDED.avg, min = EXCLUDED.min, max = EXCLUDED.max;
    GET DIAGNOSTICS affected = ROW_COUNT;
    INSERT INTO sensor_reading_daily (sensor_id, day, n, avg, min, max)
    SELECT sensor_id, (bucket AT TIME ZONE 'UTC')::date, sum(h.n), sum(h.avg * h.n) / sum(h.n), min(h.min), max(h.max)
    FROM sensor_reading_hourly h
    WHERE bucket >= date_trunc('day', from_ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AND bucket < to_ts
    GROUP BY 1, 2
    ON CONFLICT (sensor_id, day) DO UPDATE
      SET n = EXCLUDED.n, avg = EXCLUDED.avg, min = EXCLUDED.min, max = EXCLUDED.max;
    RETURN affected;
END $$;
"""


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS qhse_refresh_rollups(timestamptz, timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS qhse_ensure_reading_partitions(timestamptz, timestamptz)")
    op.drop_table('action_escalation')
    op.drop_index('ix_incident_site_occurred', table_name='incident')
    op.drop_index(op.f('ix_incident_department_id'), table_name='incident')
    op.drop_index(op.f('ix_incident_area_id'), table_name='incident')
    op.drop_table('incident')
    op.drop_index(op.f('ix_hazard_transition_hazard_id'), table_name='hazard_transition')
    op.drop_table('hazard_transition')
    op.drop_index(op.f('ix_corrective_action_owner_person_id'), table_name='corrective_action')
    op.drop_index(op.f('ix_corrective_action_hazard_id'), table_name='corrective_action')
    op.drop_index('ix_corrective_action_due', table_name='corrective_action')
    op.drop_index(op.f('ix_corrective_action_department_id'), table_name='corrective_action')
    op.drop_table('corrective_action')
    op.drop_index('uq_alarm_open_rule_sensor', table_name='alarm', postgresql_where=sa.text('cleared_at IS NULL'))
    op.drop_index('ix_alarm_site_raised', table_name='alarm')
    op.drop_index(op.f('ix_alarm_sensor_id'), table_name='alarm')
    op.drop_index(op.f('ix_alarm_area_id'), table_name='alarm')
    op.drop_table('alarm')
    op.drop_index('ix_vision_event_site_started', table_name='vision_event')
    op.drop_index('ix_vision_event_review', table_name='vision_event')
    op.drop_index(op.f('ix_vision_event_camera_id'), table_name='vision_event')
    op.drop_table('vision_event')
    op.drop_index('ix_hazard_report_site_reported', table_name='hazard_report')
    op.drop_index(op.f('ix_hazard_report_reporter_person_id'), table_name='hazard_report')
    op.drop_index(op.f('ix_hazard_report_asset_id'), table_name='hazard_report')
    op.drop_index(op.f('ix_hazard_report_area_id'), table_name='hazard_report')
    op.drop_table('hazard_report')
    op.drop_index(op.f('ix_alarm_rule_sensor_kind'), table_name='alarm_rule')
    op.drop_index(op.f('ix_alarm_rule_sensor_id'), table_name='alarm_rule')
    op.drop_table('alarm_rule')
    op.drop_index(op.f('ix_sensor_site_id'), table_name='sensor')
    op.drop_index(op.f('ix_sensor_asset_id'), table_name='sensor')
    op.drop_index(op.f('ix_sensor_area_id'), table_name='sensor')
    op.drop_table('sensor')
    op.drop_index(op.f('ix_maintenance_event_asset_id'), table_name='maintenance_event')
    op.drop_table('maintenance_event')
    op.drop_index(op.f('ix_inspection_route_id'), table_name='inspection')
    op.drop_index(op.f('ix_inspection_area_id'), table_name='inspection')
    op.drop_table('inspection')
    op.drop_index('ix_failure_prediction_asset_scored', table_name='failure_prediction')
    op.drop_table('failure_prediction')
    op.drop_index(op.f('ix_failure_event_occurred_at'), table_name='failure_event')
    op.drop_index(op.f('ix_failure_event_asset_id'), table_name='failure_event')
    op.drop_table('failure_event')
    op.drop_table('contractor_job_worker')
    op.drop_index(op.f('ix_camera_zone_camera_id'), table_name='camera_zone')
    op.drop_table('camera_zone')
    op.drop_index(op.f('ix_access_record_person_id'), table_name='access_record')
    op.drop_index('ix_access_record_area_open', table_name='access_record')
    op.drop_table('access_record')
    op.drop_table('user_site_scope')
    op.drop_index(op.f('ix_inspection_route_site_id'), table_name='inspection_route')
    op.drop_index(op.f('ix_inspection_route_area_id'), table_name='inspection_route')
    op.drop_table('inspection_route')
    op.drop_index(op.f('ix_hazardous_material_site_id'), table_name='hazardous_material')
    op.drop_index(op.f('ix_hazardous_material_area_id'), table_name='hazardous_material')
    op.drop_table('hazardous_material')
    op.drop_index(op.f('ix_emergency_resource_site_id'), table_name='emergency_resource')
    op.drop_index(op.f('ix_emergency_resource_area_id'), table_name='emergency_resource')
    op.drop_table('emergency_resource')
    op.drop_table('dispatch_rule')
    op.drop_index(op.f('ix_contractor_job_site_id'), table_name='contractor_job')
    op.drop_index(op.f('ix_contractor_job_company_id'), table_name='contractor_job')
    op.drop_index(op.f('ix_contractor_job_area_id'), table_name='contractor_job')
    op.drop_table('contractor_job')
    op.drop_index(op.f('ix_camera_site_id'), table_name='camera')
    op.drop_index(op.f('ix_camera_area_id'), table_name='camera')
    op.drop_table('camera')
    op.drop_index(op.f('ix_audit_log_user_id'), table_name='audit_log')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index(op.f('ix_asset_site_id'), table_name='asset')
    op.drop_index(op.f('ix_asset_area_id'), table_name='asset')
    op.drop_table('asset')
    op.drop_table('user_account')
    op.drop_index(op.f('ix_training_record_person_id'), table_name='training_record')
    op.drop_index(op.f('ix_training_record_course_id'), table_name='training_record')
    op.drop_table('training_record')
    op.drop_index(op.f('ix_qualification_person_id'), table_name='qualification')
    op.drop_index(op.f('ix_qualification_company_id'), table_name='qualification')
    op.drop_table('qualification')
    op.drop_index(op.f('ix_area_site_id'), table_name='area')
    op.drop_index(op.f('ix_area_owner_person_id'), table_name='area')
    op.drop_index(op.f('ix_area_department_id'), table_name='area')
    op.drop_table('area')
    op.drop_index(op.f('ix_person_site_id'), table_name='person')
    op.drop_index(op.f('ix_person_post_id'), table_name='person')
    op.drop_index(op.f('ix_person_department_id'), table_name='person')
    op.drop_index(op.f('ix_person_contractor_company_id'), table_name='person')
    op.drop_table('person')
    op.drop_index(op.f('ix_post_department_id'), table_name='post')
    op.drop_table('post')
    op.drop_index(op.f('ix_hours_worked_site_id'), table_name='hours_worked')
    op.drop_index(op.f('ix_hours_worked_department_id'), table_name='hours_worked')
    op.drop_table('hours_worked')
    op.drop_index(op.f('ix_assessment_score_site_id'), table_name='assessment_score')
    op.drop_index(op.f('ix_assessment_score_indicator_id'), table_name='assessment_score')
    op.drop_table('assessment_score')
    op.drop_table('sla_policy')
    op.drop_index(op.f('ix_department_site_id'), table_name='department')
    op.drop_table('department')
    op.drop_table('assessment_indicator')
    op.drop_index(op.f('ix_site_region_id'), table_name='site')
    op.drop_table('site')
    op.drop_index(op.f('ix_region_enterprise_id'), table_name='region')
    op.drop_table('region')
    op.drop_table('training_course')
    op.drop_table('sensor_reading_hourly')
    op.drop_table('sensor_reading_daily')
    op.drop_index('ix_sensor_reading_ts_brin', table_name='sensor_reading', postgresql_using='brin')
    op.drop_table('sensor_reading')
    op.drop_table('notification')
    op.drop_index(op.f('ix_job_run_job'), table_name='job_run')
    op.drop_table('job_run')
    op.drop_table('enterprise')
    op.drop_index(op.f('ix_dead_letter_reason'), table_name='dead_letter')
    op.drop_table('dead_letter')
    op.drop_table('contractor_company')
