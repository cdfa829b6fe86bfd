# API keys get scopes (existing keys: all of them), their last address, and the error
# shape they were made with (existing keys keep the old flat one); Idempotency-Key rows.

import django.db.models.deletion
import django.db.models.manager
from django.db import migrations, models

import prm.models.apikey


class Migration(migrations.Migration):

    dependencies = [
        ('prm', '0007_audit_object_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='apikey',
            name='scopes',
            field=models.JSONField(default=prm.models.apikey.all_scopes, verbose_name='scopes'),
        ),
        migrations.AddField(
            model_name='apikey',
            name='legacy_errors',
            field=models.BooleanField(default=True),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='apikey',
            name='legacy_errors',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='apikey',
            name='last_used_ip',
            field=models.GenericIPAddressField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name='IdempotentRequest',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('key', models.CharField(max_length=255)),
                ('fingerprint', models.CharField(max_length=64)),
                ('status_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('body', models.JSONField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('api_key', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='prm.apikey')),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='prm.tenant')),
            ],
            options={
                'abstract': False,
                'base_manager_name': 'all_tenants_unscoped',
                'indexes': [models.Index(fields=['created_at'], name='idempotent_request_age')],
                'constraints': [models.UniqueConstraint(fields=('api_key', 'key'), name='idempotent_request_once')],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('all_tenants_unscoped', django.db.models.manager.Manager()),
            ],
        ),
    ]
